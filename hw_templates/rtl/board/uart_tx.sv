// xnorflow RTL template: UART transmitter, 8N1, with an AXI4-Stream byte input.
//
// The bit period is DIV16/16 clock cycles (fractional, as in uart_rx.sv). s_axis_tready is high
// while the line is idle; a byte taken goes out as start bit, 8 data bits (LSB first), stop bit.
`default_nettype none

module uart_tx #(
    // Bit period in 1/16 clock cycles (>= 64).
    parameter int DIV16 = 16 * 868
) (
    input  wire logic       clk,
    input  wire logic       rst,

    input  wire logic [7:0] s_axis_tdata,
    input  wire logic       s_axis_tvalid,
    output wire logic       s_axis_tready,

    output wire logic       txd
);

    localparam int CW = $clog2(DIV16 + 32) + 1;

    initial begin
        if (DIV16 < 64) $fatal(1, "uart_tx %m: DIV16 >= 64 required (4 cycles a bit), got %0d",
                               DIV16);
    end

    logic [9:0] sh_reg;
    logic [3:0] bits_reg;    // bits left to send, 0 = idle
    logic [CW-1:0] acc_reg;  // 1/16 cycles into the current bit

    assign s_axis_tready = bits_reg == 0;
    assign txd = bits_reg == 0 ? 1'b1 : sh_reg[0];

    always_ff @(posedge clk) begin
        if (bits_reg == 0) begin
            if (s_axis_tvalid) begin
                sh_reg <= {1'b1, s_axis_tdata, 1'b0};
                bits_reg <= 4'd10;
                acc_reg <= '0;
            end
        end else if (acc_reg + CW'(16) >= CW'(DIV16)) begin
            acc_reg <= acc_reg + CW'(16) - CW'(DIV16);
            sh_reg <= {1'b1, sh_reg[9:1]};
            bits_reg <= bits_reg - 4'd1;
        end else begin
            acc_reg <= acc_reg + CW'(16);
        end
        if (rst) begin
            bits_reg <= '0;
            sh_reg <= '1;
        end
    end

endmodule

`default_nettype wire
