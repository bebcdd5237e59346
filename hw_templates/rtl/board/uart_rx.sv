// xnorflow RTL template: UART receiver, 8 data bits, no parity, 1 stop bit (8N1).
//
// The bit period is DIV16/16 clock cycles (a fractional divisor: a 3 Mbaud link at 62.5 MHz is
// DIV16 = 333, 20.8125 cycles a bit, 0.1 % off instead of the 1.6 % an integer divisor gives).
// rxd is synchronised with two flip-flops; each bit is sampled once, in its middle. A byte is
// offered for one cycle on m_axis_tvalid (a UART cannot wait: the consumer takes it or loses
// it); a byte whose stop bit is 0 is dropped and flagged on frame_error for one cycle.
`default_nettype none

module uart_rx #(
    // Bit period in 1/16 clock cycles (>= 64: at least 4 cycles a bit).
    parameter int DIV16 = 16 * 868
) (
    input  wire logic       clk,
    input  wire logic       rst,
    input  wire logic       rxd,

    output logic [7:0]      m_axis_tdata,
    output logic            m_axis_tvalid,
    output logic            frame_error
);

    localparam int CW = $clog2(DIV16 + 32) + 1;

    initial begin
        if (DIV16 < 64) $fatal(1, "uart_rx %m: DIV16 >= 64 required (4 cycles a bit), got %0d",
                               DIV16);
    end

    /* verilator lint_off PROCASSINIT */
    logic [2:0] sync_reg = 3'b111;  // idle line at power-up
    /* verilator lint_on PROCASSINIT */
    logic [CW-1:0] cnt_reg;  // 1/16 cycles to the middle of the next bit
    logic [3:0] bit_reg;     // 0: idle; 1: start bit; 2..9: data; 10: stop bit
    logic [7:0] data_reg;

    wire rx = sync_reg[2];
    wire sample = bit_reg != 0 && cnt_reg <= CW'(16);

    always_ff @(posedge clk) begin
        sync_reg <= {sync_reg[1:0], rxd};
        m_axis_tvalid <= 1'b0;
        frame_error <= 1'b0;
        if (bit_reg == 0) begin
            if (!rx) begin  // falling edge of the start bit: wait half a bit
                bit_reg <= 4'd1;
                cnt_reg <= CW'(DIV16 / 2);
            end
        end else if (sample) begin
            cnt_reg <= cnt_reg + CW'(DIV16) - CW'(16);
            if (bit_reg == 4'd1) begin
                bit_reg <= rx ? 4'd0 : 4'd2;  // a glitch, not a start bit
            end else if (bit_reg == 4'd10) begin
                bit_reg <= 4'd0;
                m_axis_tvalid <= rx;
                frame_error <= !rx;
            end else begin
                data_reg <= {rx, data_reg[7:1]};
                bit_reg <= bit_reg + 4'd1;
            end
        end else begin
            cnt_reg <= cnt_reg - CW'(16);
        end
        if (rst) begin
            bit_reg <= '0;
            m_axis_tvalid <= 1'b0;
            frame_error <= 1'b0;
        end
    end

    assign m_axis_tdata = data_reg;

endmodule

`default_nettype wire
