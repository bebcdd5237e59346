// Test wrapper (tests/board/test_bridge.py): uart_rx and uart_tx side by side, unconnected.
`default_nettype none

module uart_pair_tb #(
    parameter int DIV16 = 16 * 8
) (
    input  wire logic       clk,
    input  wire logic       rst,
    input  wire logic       rxd,
    output wire logic [7:0] rx_tdata,
    output wire logic       rx_tvalid,
    output wire logic       rx_error,
    input  wire logic [7:0] s_axis_tdata,
    input  wire logic       s_axis_tvalid,
    output wire logic       s_axis_tready,
    output wire logic       txd
);
    uart_rx #(.DIV16(DIV16)) u_rx (.clk, .rst, .rxd, .m_axis_tdata(rx_tdata),
                                   .m_axis_tvalid(rx_tvalid), .frame_error(rx_error));
    uart_tx #(.DIV16(DIV16)) u_tx (.clk, .rst, .s_axis_tdata, .s_axis_tvalid, .s_axis_tready,
                                   .txd);
endmodule

`default_nettype wire
