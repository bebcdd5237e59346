// xnorflow: generic Verilator testbench of a generated accelerator top (xnorflow_top).
//
// Compiled once per design by host/verilator_sim.py; the design's stream sizes come from the
// generated header tb_params.h (TB_IN_BYTES, TB_IN_BEATS, TB_OUT_BYTES, TB_OUT_BEATS), and the
// streams between its instances from TB_STREAMS(X): X(name, tvalid, tready) per stream, the
// signals being the top's wires marked public_flat_rd.
// It stays alive between requests and talks over stdin/stdout (little-endian binary):
//   request:  uint32 n_frames, seed, in_valid_pct, out_ready_pct, batch  (n_frames = 0: exit),
//             uint64 stall_limit (cycles without a handshake on any stream = deadlock),
//             then n_frames * TB_IN_BEATS * TB_IN_BYTES bytes (compile/stream.py beats)
//   response: uint32 status (0 ok, 1 deadlock: no handshake for stall_limit cycles),
//             uint32 tlast_errors (output beats whose TLAST is wrong),
//             uint64 cycles (simulated for this request),
//             n_frames * TB_OUT_BEATS * TB_OUT_BYTES bytes,
//             n_frames uint64 cycle of each frame's first input beat,
//             n_frames uint64 cycle of each frame's last output beat (cycles count from reset),
//             per stream of TB_STREAMS: uint64 cycle of its last handshake, uint64 handshakes
//             so far, uint64 tvalid | tready << 1 now
// Tracing (compiled with -DTB_TRACE and --trace-fst): argv "--trace FILE K" dumps every signal
// to the FST file FILE from reset until K output frames have left, then closes it.
// Back-pressure: each cycle the source raises tvalid with probability in_valid_pct % (and
// holds it until accepted, as AXI4-Stream requires) and the sink raises tready with
// probability out_ready_pct %, from a xorshift generator seeded by the request.
// TLAST: the frames go in packets of `batch` frames (the last one shorter; batch 0: the whole
// request is one packet), as DMA transfers would send them: s_axis_tlast is high on the last
// beat of each packet, and m_axis_tlast must be high on exactly the last beat of the output
// frame that ends each packet.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "Vxnorflow_top.h"
#include "Vxnorflow_top___024root.h"
#include "tb_params.h"
#include "verilated.h"
#ifdef TB_TRACE
#include "verilated_fst_c.h"
#endif

struct Stream {
    const char* name;
    const CData* valid;
    const CData* ready;
    uint64_t last_fire = 0, fires = 0;
};

// ---- tdata <-> bytes, for narrow (CData..QData) and wide (VlWide) signals ----------------
template <class T>
static void set_bytes(T& sig, const uint8_t* b, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n && i < 8; i++) v |= static_cast<uint64_t>(b[i]) << (8 * i);
    sig = static_cast<T>(v);
}
template <std::size_t W>
static void set_bytes(VlWide<W>& sig, const uint8_t* b, int n) {
    for (std::size_t w = 0; w < W; w++) {
        uint32_t word = 0;
        for (int k = 0; k < 4; k++) {
            int i = static_cast<int>(4 * w) + k;
            if (i < n) word |= static_cast<uint32_t>(b[i]) << (8 * k);
        }
        sig[w] = word;
    }
}
template <class T>
static void get_bytes(const T& sig, uint8_t* b, int n) {
    uint64_t v = static_cast<uint64_t>(sig);
    for (int i = 0; i < n; i++) b[i] = i < 8 ? static_cast<uint8_t>(v >> (8 * i)) : 0;
}
template <std::size_t W>
static void get_bytes(const VlWide<W>& sig, uint8_t* b, int n) {
    for (int i = 0; i < n; i++) b[i] = static_cast<uint8_t>(sig[i / 4] >> (8 * (i % 4)));
}

static bool read_all(void* dst, size_t n) {
    uint8_t* p = static_cast<uint8_t*>(dst);
    while (n) {
        size_t got = fread(p, 1, n, stdin);
        if (got == 0) return false;
        p += got;
        n -= got;
    }
    return true;
}

struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL) {}
    uint32_t pct() {  // uniform in [0, 100)
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return static_cast<uint32_t>((s >> 11) % 100);
    }
};

int main(int argc, char** argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto top = std::make_unique<Vxnorflow_top>(ctx.get());
    uint64_t cycle = 0;
#define TB_STREAM_ENTRY(name, valid, ready) {name, &top->rootp->valid, &top->rootp->ready},
    std::vector<Stream> streams = {TB_STREAMS(TB_STREAM_ENTRY)};
#undef TB_STREAM_ENTRY
#ifdef TB_TRACE
    std::unique_ptr<VerilatedFstC> trace;
    uint64_t trace_frames = 0, frames_out = 0;
    for (int i = 1; i + 2 < argc; i++) {
        if (std::string(argv[i]) == "--trace") {
            ctx->traceEverOn(true);
            trace = std::make_unique<VerilatedFstC>();
            top->trace(trace.get(), 99);
            trace->open(argv[i + 1]);
            trace_frames = std::stoull(argv[i + 2]);
        }
    }
    auto dump = [&](uint64_t t) {
        if (trace) trace->dump(t);
    };
#else
    auto dump = [](uint64_t) {};
#endif

    auto tick = [&]() {
        top->clk = 1;
        top->eval();
        dump(2 * cycle + 1);
        top->clk = 0;  // evaluated with the next inputs
        cycle++;
    };
    top->clk = 0;
    top->rst = 1;
    top->s_axis_tvalid = 0;
    top->s_axis_tlast = 0;
    top->m_axis_tready = 0;
    top->eval();
    for (int i = 0; i < 8; i++) tick();
    top->rst = 0;
    top->eval();

    const size_t in_frame = static_cast<size_t>(TB_IN_BEATS) * TB_IN_BYTES;
    const size_t out_frame = static_cast<size_t>(TB_OUT_BEATS) * TB_OUT_BYTES;
    std::vector<uint8_t> in, out;
    std::vector<uint64_t> first_in, last_out;

    for (;;) {
        uint32_t hdr[5];
        uint64_t stall_limit = 0;
        if (!read_all(hdr, sizeof hdr) || hdr[0] == 0) break;
        if (!read_all(&stall_limit, sizeof stall_limit)) break;
        const uint64_t n = hdr[0];
        Rng rng(hdr[1]);
        const uint32_t in_pct = hdr[2], out_pct = hdr[3];
        const uint64_t batch = hdr[4] ? hdr[4] : n;
        // the frame ends a packet (TLAST on its last beat)
        auto packet_end = [&](uint64_t frame) { return (frame + 1) % batch == 0 || frame + 1 == n; };
        in.resize(n * in_frame);
        out.assign(n * out_frame, 0);
        first_in.assign(n, 0);
        last_out.assign(n, 0);
        if (!read_all(in.data(), in.size())) break;

        const uint64_t in_total = n * TB_IN_BEATS, out_total = n * TB_OUT_BEATS;
        uint64_t in_done = 0, out_done = 0, idle = 0, start = cycle;
        uint32_t status = 0, tlast_errors = 0;
        bool valid = false;
        while (out_done < out_total) {
            if (!valid && in_done < in_total) valid = in_pct >= 100 || rng.pct() < in_pct;
            const bool ready = out_pct >= 100 || rng.pct() < out_pct;
            top->s_axis_tvalid = valid;
            if (valid) set_bytes(top->s_axis_tdata, &in[in_done * TB_IN_BYTES], TB_IN_BYTES);
            top->s_axis_tlast = valid && in_done % TB_IN_BEATS == TB_IN_BEATS - 1 &&
                                packet_end(in_done / TB_IN_BEATS);
            top->m_axis_tready = ready;
            top->eval();
            dump(2 * cycle);
            const bool in_fire = valid && top->s_axis_tready;
            const bool out_fire = ready && top->m_axis_tvalid;
            bool moved = false;
            for (auto& st : streams) {
                if (*st.valid && *st.ready) {
                    st.last_fire = cycle;
                    st.fires++;
                    moved = true;
                }
            }
            if (in_fire) {
                if (in_done % TB_IN_BEATS == 0) first_in[in_done / TB_IN_BEATS] = cycle;
                in_done++;
                valid = false;
            }
            if (out_fire) {
                get_bytes(top->m_axis_tdata, &out[out_done * TB_OUT_BYTES], TB_OUT_BYTES);
                const bool last_beat = out_done % TB_OUT_BEATS == TB_OUT_BEATS - 1;
                const bool want_last = last_beat && packet_end(out_done / TB_OUT_BEATS);
                if (static_cast<bool>(top->m_axis_tlast) != want_last) tlast_errors++;
                if (last_beat) last_out[out_done / TB_OUT_BEATS] = cycle;
                out_done++;
#ifdef TB_TRACE
                if (last_beat) frames_out++;
#endif
            }
            idle = in_fire || out_fire || moved ? 0 : idle + 1;
            tick();
#ifdef TB_TRACE
            if (trace && frames_out >= trace_frames) {  // after the edge that took the beat
                trace->close();
                trace.reset();
            }
#endif
            if (idle > stall_limit) {
                status = 1;
                break;
            }
        }
        top->s_axis_tvalid = 0;
        top->s_axis_tlast = 0;
        top->m_axis_tready = 0;
        top->eval();
        const uint64_t cycles = cycle - start;
        fwrite(&status, 4, 1, stdout);
        fwrite(&tlast_errors, 4, 1, stdout);
        fwrite(&cycles, 8, 1, stdout);
        fwrite(out.data(), 1, out.size(), stdout);
        fwrite(first_in.data(), 8, n, stdout);
        fwrite(last_out.data(), 8, n, stdout);
        for (const auto& st : streams) {
            const uint64_t probe[3] = {st.last_fire, st.fires,
                                       static_cast<uint64_t>((*st.valid ? 1 : 0) |
                                                             (*st.ready ? 2 : 0))};
            fwrite(probe, 8, 3, stdout);
        }
        fflush(stdout);
        if (status) break;
    }
#ifdef TB_TRACE
    if (trace) trace->close();
#endif
    top->final();
    return 0;
}
