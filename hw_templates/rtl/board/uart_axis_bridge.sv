// xnorflow RTL template: UART byte streams <-> the accelerator's AXI4-Stream ports, speaking the
// framed protocol of compile/board_protocol.py (read its docstring first).
//
//   host → board:  A5 CMD SEQ N_LO N_HI payload CRC_LO CRC_HI    (CRC over CMD .. payload)
//   board → host:  5A CMD|80 SEQ N_LO N_HI payload STATUS CRC_LO CRC_HI
//
// HELLO (01): the reply's payload is the HELLO block (the build's identity and geometry).
// RUN (02): N frames of IN_BEATS beats of IN_BYTES bytes each go into the accelerator as they
// arrive; the reply's header goes out at once and the N results (OUT_BEATS beats of OUT_BYTES
// bytes each) follow as the accelerator makes them, then STATUS once the command's CRC has
// been checked. Bytes are sent LSB first within a beat (compile/stream.py's byte order).
// Recovery: a packet in which no byte arrives for TIMEOUT_CYCLES is dropped (a cut header
// silently; a cut payload with the accelerator held in reset, the reply completed with zero
// results and STATUS TIMEOUT). Input bytes that find the FIFO full, or with a bad stop bit,
// make the STATUS OVERRUN. The next packet is taken only after the reply is sent (stop and
// wait); bytes arriving meanwhile are dropped.
`default_nettype none

module uart_axis_bridge #(
    // Bytes of an input beat (the accelerator's s_axis_tdata width / 8) and beats of a frame.
    parameter int IN_BYTES = 1,
    parameter int IN_BEATS = 1,
    // Bytes of an output beat (m_axis_tdata width / 8) and beats of a frame.
    parameter int OUT_BYTES = 1,
    parameter int OUT_BEATS = 1,
    // The hello block (compile/board_protocol.Hello.to_bytes()): byte i at bits [8i+7:8i].
    parameter int HELLO_LEN = 32,
    parameter logic [8*HELLO_LEN-1:0] HELLO = '0,
    // Clock cycles without an input byte after which a started packet is dropped (>= 16).
    parameter int TIMEOUT_CYCLES = 1000000,
    // Entries of the input byte FIFO (a power of two >= 4): absorbs the accelerator's stalls.
    parameter int FIFO_DEPTH = 64
) (
    input  wire logic                   clk,
    input  wire logic                   rst,

    // from uart_rx: a byte per pulse, no back-pressure
    input  wire logic [7:0]             rx_tdata,
    input  wire logic                   rx_tvalid,
    input  wire logic                   rx_error,
    // to uart_tx
    output logic [7:0]                  tx_tdata,
    output logic                        tx_tvalid,
    input  wire logic                   tx_tready,

    // to the accelerator's input
    output wire logic [8*IN_BYTES-1:0]  m_axis_tdata,
    output wire logic                   m_axis_tvalid,
    input  wire logic                   m_axis_tready,
    output wire logic                   m_axis_tlast,
    // from the accelerator's output
    input  wire logic [8*OUT_BYTES-1:0] s_axis_tdata,
    input  wire logic                   s_axis_tvalid,
    output wire logic                   s_axis_tready,

    output wire logic                   acc_rst,    // holds the accelerator in reset
    output wire logic                   busy,       // a packet or a reply is in progress
    output wire logic                   receiving,  // a packet's bytes are being read
    output logic                        error,      // the last reply's STATUS was not OK
    output logic                        hello_seen  // a HELLO was answered
);

    localparam logic [7:0] SYNC_HOST = 8'hA5, SYNC_BOARD = 8'h5A;
    localparam logic [7:0] CMD_HELLO = 8'h01, CMD_RUN = 8'h02;
    localparam logic [7:0] ST_OK = 8'd0, ST_BAD_CRC = 8'd1, ST_TIMEOUT = 8'd2,
                           ST_OVERRUN = 8'd3, ST_BAD_CMD = 8'd4;
    localparam int AW = $clog2(FIFO_DEPTH);
    localparam int TW = $clog2(TIMEOUT_CYCLES + 1) + 1;
    localparam int IBW = $clog2(IN_BYTES + 1), IFW = $clog2(IN_BEATS + 1);
    localparam int OBW = $clog2(OUT_BYTES + 1), OFW = $clog2(OUT_BEATS + 1);

    initial begin
        if (IN_BYTES < 1 || IN_BEATS < 1 || OUT_BYTES < 1 || OUT_BEATS < 1)
            $fatal(1, "uart_axis_bridge %m: the stream geometry must be positive");
        if (FIFO_DEPTH < 4 || (FIFO_DEPTH & (FIFO_DEPTH - 1)) != 0)
            $fatal(1, "uart_axis_bridge %m: FIFO_DEPTH must be a power of two >= 4");
        if (TIMEOUT_CYCLES < 16) $fatal(1, "uart_axis_bridge %m: TIMEOUT_CYCLES >= 16 required");
        if (HELLO_LEN < 1 || HELLO_LEN > 255) $fatal(1, "uart_axis_bridge %m: HELLO_LEN 1..255");
    end

    function automatic logic [15:0] crc16_next(input logic [15:0] crc, input logic [7:0] b);
        logic [15:0] c;
        c = crc ^ {b, 8'h00};
        for (int i = 0; i < 8; i++) c = c[15] ? {c[14:0], 1'b0} ^ 16'h1021 : {c[14:0], 1'b0};
        crc16_next = c;
    endfunction

    // ---- input byte FIFO --------------------------------------------------------------------
    logic [7:0] fifo_mem [FIFO_DEPTH];
    logic [AW:0] wr_reg, rd_reg;
    wire fifo_empty = wr_reg == rd_reg;
    wire fifo_full = (wr_reg ^ rd_reg) == {1'b1, {AW{1'b0}}};
    wire [7:0] fifo_head = fifo_mem[rd_reg[AW-1:0]];

    // ---- receiver: the host's packets -------------------------------------------------------
    typedef enum logic [3:0] {
        R_SYNC, R_CMD, R_SEQ, R_NLO, R_NHI, R_DATA, R_CRC0, R_CRC1, R_WAIT
    } rstate_t;
    rstate_t rstate_reg;
    logic [7:0] cmd_reg, seq_reg, crc_lo_reg, status_reg;
    logic [15:0] n_reg, rx_crc_reg, frame_in_reg;
    logic [IBW-1:0] byte_in_reg;
    logic [IFW-1:0] beat_in_reg;
    logic [8*IN_BYTES-1:0] beat_reg;
    logic beat_valid_reg, beat_last_reg;
    logic lost_reg, abort_reg, rx_done_reg, hdr_done_reg;
    logic [TW-1:0] idle_reg;
    logic tx_done;  // the reply's last byte left (from the transmitter)

    wire in_packet = rstate_reg != R_SYNC && rstate_reg != R_WAIT;
    wire timed_out = in_packet && idle_reg >= TW'(TIMEOUT_CYCLES);
    wire pop = !fifo_empty && !timed_out && rstate_reg != R_WAIT
               && (rstate_reg != R_DATA || !beat_valid_reg);
    wire last_byte_of_beat = byte_in_reg == IBW'(IN_BYTES - 1);
    wire last_beat_of_frame = beat_in_reg == IFW'(IN_BEATS - 1);
    wire last_frame = frame_in_reg == n_reg - 16'd1;

    assign m_axis_tdata = beat_reg;
    assign m_axis_tvalid = beat_valid_reg;
    assign m_axis_tlast = beat_last_reg;
    assign acc_rst = rst || abort_reg;

    always_ff @(posedge clk) begin
        if (rx_tvalid && rstate_reg != R_WAIT && !fifo_full) begin
            fifo_mem[wr_reg[AW-1:0]] <= rx_tdata;
        end
    end

    always_ff @(posedge clk) begin
        hdr_done_reg <= 1'b0;
        if (rx_tvalid && rstate_reg != R_WAIT) begin
            if (!fifo_full) wr_reg <= wr_reg + 1'b1;
            else lost_reg <= 1'b1;
        end
        if (rx_error && in_packet) lost_reg <= 1'b1;
        idle_reg <= rx_tvalid ? '0 : (idle_reg == '1 ? idle_reg : idle_reg + 1'b1);
        if (m_axis_tvalid && m_axis_tready) beat_valid_reg <= 1'b0;
        if (pop) begin
            rd_reg <= rd_reg + 1'b1;
            if (rstate_reg != R_SYNC && rstate_reg != R_CRC0 && rstate_reg != R_CRC1)
                rx_crc_reg <= crc16_next(rx_crc_reg, fifo_head);
        end
        case (rstate_reg)
            R_SYNC: if (pop && fifo_head == SYNC_HOST) begin
                rstate_reg <= R_CMD;
                rx_crc_reg <= 16'hFFFF;
                lost_reg <= 1'b0;
            end
            R_CMD: if (pop) begin cmd_reg <= fifo_head; rstate_reg <= R_SEQ; end
            R_SEQ: if (pop) begin seq_reg <= fifo_head; rstate_reg <= R_NLO; end
            R_NLO: if (pop) begin n_reg[7:0] <= fifo_head; rstate_reg <= R_NHI; end
            R_NHI: if (pop) begin
                n_reg[15:8] <= fifo_head;
                hdr_done_reg <= 1'b1;
                byte_in_reg <= '0;
                beat_in_reg <= '0;
                frame_in_reg <= '0;
                rstate_reg <= (cmd_reg == CMD_RUN && {fifo_head, n_reg[7:0]} != 16'd0)
                              ? R_DATA : R_CRC0;
            end
            R_DATA: if (pop) begin
                beat_reg <= (8*IN_BYTES)'({fifo_head, beat_reg} >> 8);
                byte_in_reg <= byte_in_reg + 1'b1;
                if (last_byte_of_beat) begin
                    byte_in_reg <= '0;
                    beat_valid_reg <= 1'b1;
                    beat_last_reg <= last_beat_of_frame && last_frame;
                    beat_in_reg <= beat_in_reg + 1'b1;
                    if (last_beat_of_frame) begin
                        beat_in_reg <= '0;
                        frame_in_reg <= frame_in_reg + 16'd1;
                        if (last_frame) rstate_reg <= R_CRC0;
                    end
                end
            end
            R_CRC0: if (pop) begin crc_lo_reg <= fifo_head; rstate_reg <= R_CRC1; end
            R_CRC1: if (pop) begin
                rstate_reg <= R_WAIT;
                rx_done_reg <= 1'b1;
                wr_reg <= rd_reg + 1'b1;  // flush: nothing may follow a packet before its reply
                if (lost_reg) status_reg <= ST_OVERRUN;
                else if ({fifo_head, crc_lo_reg} != rx_crc_reg) status_reg <= ST_BAD_CRC;
                else if (cmd_reg != CMD_HELLO && cmd_reg != CMD_RUN) status_reg <= ST_BAD_CMD;
                else status_reg <= ST_OK;
            end
            R_WAIT: if (tx_done) begin
                rstate_reg <= R_SYNC;
                rx_done_reg <= 1'b0;
                abort_reg <= 1'b0;
            end
            default: rstate_reg <= R_SYNC;
        endcase
        if (timed_out) begin
            wr_reg <= rd_reg;  // flush
            beat_valid_reg <= 1'b0;
            if (rstate_reg == R_CMD || rstate_reg == R_SEQ || rstate_reg == R_NLO
                || rstate_reg == R_NHI) begin
                rstate_reg <= R_SYNC;  // a cut header: no reply was started
            end else begin
                rstate_reg <= R_WAIT;
                rx_done_reg <= 1'b1;
                abort_reg <= 1'b1;
                status_reg <= ST_TIMEOUT;
            end
        end
        if (rst) begin
            rstate_reg <= R_SYNC;
            wr_reg <= '0;
            rd_reg <= '0;
            beat_valid_reg <= 1'b0;
            beat_last_reg <= 1'b0;
            lost_reg <= 1'b0;
            abort_reg <= 1'b0;
            rx_done_reg <= 1'b0;
            hdr_done_reg <= 1'b0;
            idle_reg <= '0;
        end
    end

    // ---- transmitter: the replies -----------------------------------------------------------
    typedef enum logic [2:0] {T_IDLE, T_HDR, T_BODY, T_STATUS, T_CRC0, T_CRC1} tstate_t;
    tstate_t tstate_reg;
    logic [7:0] tcmd_reg, tseq_reg;
    logic [15:0] tn_reg, tx_crc_reg, frame_out_reg;
    logic [7:0] idx_reg;  // header byte / hello byte
    logic [OBW-1:0] byte_out_reg;
    logic [OFW-1:0] beat_out_reg;
    logic [8*OUT_BYTES-1:0] out_reg;
    logic out_loaded_reg;

    wire t_run = tcmd_reg == CMD_RUN;
    wire fire = tx_tvalid && tx_tready;
    wire last_out_byte = byte_out_reg == OBW'(OUT_BYTES - 1);
    wire last_out_beat = beat_out_reg == OFW'(OUT_BEATS - 1);
    wire last_out_frame = frame_out_reg == tn_reg - 16'd1;

    assign s_axis_tready = tstate_reg == T_BODY && t_run && !out_loaded_reg && !abort_reg;
    assign tx_done = fire && tstate_reg == T_CRC1;
    assign busy = rstate_reg != R_SYNC || tstate_reg != T_IDLE;
    assign receiving = in_packet;

    always_comb begin
        tx_tdata = 8'h00;
        tx_tvalid = 1'b0;
        case (tstate_reg)
            T_HDR: begin
                tx_tvalid = 1'b1;
                case (idx_reg)
                    8'd0: tx_tdata = SYNC_BOARD;
                    8'd1: tx_tdata = tcmd_reg | 8'h80;
                    8'd2: tx_tdata = tseq_reg;
                    8'd3: tx_tdata = tn_reg[7:0];
                    default: tx_tdata = tn_reg[15:8];
                endcase
            end
            T_BODY: begin
                tx_tvalid = t_run ? out_loaded_reg : 1'b1;
                tx_tdata = t_run ? out_reg[7:0] : HELLO[8*idx_reg +: 8];
            end
            T_STATUS: begin
                tx_tvalid = rx_done_reg;
                tx_tdata = status_reg;
            end
            T_CRC0: begin tx_tvalid = 1'b1; tx_tdata = tx_crc_reg[7:0]; end
            T_CRC1: begin tx_tvalid = 1'b1; tx_tdata = tx_crc_reg[15:8]; end
            default: ;
        endcase
    end

    always_ff @(posedge clk) begin
        if (fire && (tstate_reg != T_HDR || idx_reg != 0) && tstate_reg != T_CRC0
            && tstate_reg != T_CRC1) begin
            tx_crc_reg <= crc16_next(tx_crc_reg, tx_tdata);
        end
        if (s_axis_tvalid && s_axis_tready) begin
            out_reg <= s_axis_tdata;
            out_loaded_reg <= 1'b1;
        end else if (tstate_reg == T_BODY && t_run && abort_reg && !out_loaded_reg) begin
            out_reg <= '0;  // the accelerator was reset: the promised results are zeros
            out_loaded_reg <= 1'b1;
        end
        case (tstate_reg)
            T_IDLE: if (hdr_done_reg) begin
                tstate_reg <= T_HDR;
                idx_reg <= '0;
                tcmd_reg <= cmd_reg;
                tseq_reg <= seq_reg;
                tn_reg <= cmd_reg == CMD_RUN ? n_reg : cmd_reg == CMD_HELLO ? 16'(HELLO_LEN)
                                                                            : 16'd0;
                tx_crc_reg <= 16'hFFFF;
                byte_out_reg <= '0;
                beat_out_reg <= '0;
                frame_out_reg <= '0;
                out_loaded_reg <= 1'b0;
            end
            T_HDR: if (fire) begin
                idx_reg <= idx_reg + 8'd1;
                if (idx_reg == 8'd4) begin
                    idx_reg <= '0;
                    tstate_reg <= tn_reg == 16'd0 ? T_STATUS : T_BODY;
                end
            end
            T_BODY: if (fire) begin
                if (!t_run) begin
                    idx_reg <= idx_reg + 8'd1;
                    if (idx_reg == 8'(HELLO_LEN - 1)) tstate_reg <= T_STATUS;
                end else begin
                    out_reg <= out_reg >> 8;
                    byte_out_reg <= byte_out_reg + 1'b1;
                    if (last_out_byte) begin
                        byte_out_reg <= '0;
                        out_loaded_reg <= 1'b0;
                        beat_out_reg <= beat_out_reg + 1'b1;
                        if (last_out_beat) begin
                            beat_out_reg <= '0;
                            frame_out_reg <= frame_out_reg + 16'd1;
                            if (last_out_frame) tstate_reg <= T_STATUS;
                        end
                    end
                end
            end
            T_STATUS: if (fire) tstate_reg <= T_CRC0;
            T_CRC0: if (fire) tstate_reg <= T_CRC1;
            T_CRC1: if (fire) begin
                tstate_reg <= T_IDLE;
                error <= status_reg != ST_OK;
                if (tcmd_reg == CMD_HELLO && status_reg == ST_OK) hello_seen <= 1'b1;
            end
            default: tstate_reg <= T_IDLE;
        endcase
        if (rst) begin
            tstate_reg <= T_IDLE;
            out_loaded_reg <= 1'b0;
            error <= 1'b0;
            hello_seen <= 1'b0;
        end
    end

endmodule

`default_nettype wire
