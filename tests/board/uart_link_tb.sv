// Test wrapper (tests/board/test_bridge.py): uart_rx → uart_axis_bridge → uart_tx, the UART
// pins outside, the accelerator's streams outside for the cocotb model of the accelerator.
`default_nettype none

module uart_link_tb #(
    parameter int DIV16 = 16 * 8,
    parameter int IN_BYTES = 3,
    parameter int IN_BEATS = 2,
    parameter int OUT_BYTES = 2,
    parameter int OUT_BEATS = 1,
    parameter int HELLO_LEN = 32,
    parameter logic [8*HELLO_LEN-1:0] HELLO = '0,
    parameter int TIMEOUT_CYCLES = 2000,
    parameter int FIFO_DEPTH = 16
) (
    input  wire logic                   clk,
    input  wire logic                   rst,
    input  wire logic                   rxd,
    output wire logic                   txd,
    output wire logic [8*IN_BYTES-1:0]  m_axis_tdata,
    output wire logic                   m_axis_tvalid,
    input  wire logic                   m_axis_tready,
    output wire logic                   m_axis_tlast,
    input  wire logic [8*OUT_BYTES-1:0] s_axis_tdata,
    input  wire logic                   s_axis_tvalid,
    output wire logic                   s_axis_tready,
    output wire logic                   acc_rst,
    output wire logic                   busy,
    output wire logic                   error,
    output wire logic                   hello_seen
);
    wire [7:0] rx_tdata, tx_tdata;
    wire rx_tvalid, rx_error, tx_tvalid, tx_tready;
    uart_rx #(.DIV16(DIV16)) u_rx (.clk, .rst, .rxd, .m_axis_tdata(rx_tdata),
                                   .m_axis_tvalid(rx_tvalid), .frame_error(rx_error));
    uart_tx #(.DIV16(DIV16)) u_tx (.clk, .rst, .s_axis_tdata(tx_tdata),
                                   .s_axis_tvalid(tx_tvalid), .s_axis_tready(tx_tready), .txd);
    uart_axis_bridge #(
        .IN_BYTES(IN_BYTES), .IN_BEATS(IN_BEATS), .OUT_BYTES(OUT_BYTES), .OUT_BEATS(OUT_BEATS),
        .HELLO_LEN(HELLO_LEN), .HELLO(HELLO), .TIMEOUT_CYCLES(TIMEOUT_CYCLES),
        .FIFO_DEPTH(FIFO_DEPTH)
    ) u_bridge (
        .clk, .rst, .rx_tdata, .rx_tvalid, .rx_error, .tx_tdata, .tx_tvalid, .tx_tready,
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready, .m_axis_tlast,
        .s_axis_tdata, .s_axis_tvalid, .s_axis_tready, .acc_rst, .busy, .error, .hello_seen
    );
endmodule

`default_nettype wire
