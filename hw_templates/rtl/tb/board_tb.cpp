// xnorflow: Verilator testbench of a whole board top (board_top.sv with board_pll_sim.sv),
// its UART pins connected to a TCP socket on the loopback interface, so that the host's serial
// backend talks to the simulated board through pyserial's socket://127.0.0.1:PORT exactly as it
// talks to /dev/ttyUSB0.
//
// Built by compile/board/sim.py; board_tb_params.h gives TB_DIV16, the UART's bit period in
// 1/16 clock cycles (the design's own divisor), and TB_IDLE_CYCLES.
// The board top's `busy` wire (the bridge has a packet or a reply in progress) is public.
// The clock driven here is the PLL's OUTPUT (the simulation model passes it through), so a
// simulated cycle is 1 / f_clk of real time.
// argv: --port P (0: any free port). Prints "PORT n" on stdout, then serves one client at a
// time (a new one may connect after the last closed). The UART models: bytes from the client
// go out on uart_rx as 8N1 frames, back to back; uart_tx is sampled in the middle of each bit.
// stdin: "c" → prints "CYCLES n RX bytes_to_board TX bytes_from_board LED leds STARVED s"; "q"
// or EOF → exit. s counts the cycles the bridge spent inside a packet with no byte of the host
// on the line or queued — the client (the host process, on this machine's scheduler) was late
// with the rest of the packet, which a host writing the packet at once to a real UART never is.
// Figures of the link subtract them. When the bridge is not busy and the UART lines have been idle for TB_IDLE_CYCLES, the
// clock stops while waiting for the client, instead of spinning (nothing can happen on the
// board until a byte arrives).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "Vboard_top.h"
#include "Vboard_top___024root.h"
#include "board_tb_params.h"
#include "verilated.h"

int main(int argc, char** argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto top = std::make_unique<Vboard_top>(ctx.get());
    int port = 0;
    for (int i = 1; i + 1 < argc; i++)
        if (std::string(argv[i]) == "--port") port = std::atoi(argv[i + 1]);

    int lsock = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (bind(lsock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) || listen(lsock, 1)) {
        perror("board_tb: bind/listen");
        return 2;
    }
    socklen_t len = sizeof addr;
    getsockname(lsock, reinterpret_cast<sockaddr*>(&addr), &len);
    printf("PORT %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    uint64_t cycle = 0, bytes_in = 0, bytes_out = 0, idle = 0, starved = 0;
    auto tick = [&]() {
        top->clk_in = 1;
        top->eval();
        top->clk_in = 0;
        top->eval();
        cycle++;
    };
    top->clk_in = 0;
    top->uart_rx = 1;
    top->eval();

    int client = -1;
    std::deque<uint8_t> to_board;
    std::vector<uint8_t> from_board;
    // host → board UART transmitter model
    int tx_bit = -1;  // -1 idle, 0 start, 1..8 data, 9 stop
    uint16_t tx_frame = 0;
    int64_t tx_acc = 0;
    // board → host UART receiver model
    int rx_bit = -1;
    int64_t rx_cnt = 0;
    uint8_t rx_byte = 0;
    bool running = true;

    while (running) {
        bool quiet = to_board.empty() && tx_bit < 0 && rx_bit < 0 && idle > TB_IDLE_CYCLES &&
                     !top->rootp->board_top__DOT__busy;
        pollfd fds[2] = {{0, POLLIN, 0}, {client >= 0 ? client : lsock, POLLIN, 0}};
        int ready = poll(fds, 2, quiet ? 20 : 0);
        if (ready > 0) {
            if (fds[0].revents & (POLLIN | POLLHUP)) {
                char c = 0;
                if (read(0, &c, 1) != 1 || c == 'q') break;
                if (c == 'c') {
                    printf("CYCLES %llu RX %llu TX %llu LED %u STARVED %llu\n",
                           static_cast<unsigned long long>(cycle),
                           static_cast<unsigned long long>(bytes_in),
                           static_cast<unsigned long long>(bytes_out),
                           static_cast<unsigned>(top->led),
                           static_cast<unsigned long long>(starved));
                    fflush(stdout);
                }
            }
            if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                if (client < 0) {
                    client = accept(lsock, nullptr, nullptr);
                    if (client >= 0) setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                } else {
                    uint8_t buf[4096];
                    ssize_t got = recv(client, buf, sizeof buf, MSG_DONTWAIT);
                    if (got <= 0) {
                        close(client);
                        client = -1;
                    } else {
                        to_board.insert(to_board.end(), buf, buf + got);
                        idle = 0;
                    }
                }
            }
        }
        for (int k = 0; k < 256; k++) {
            // host → board: start a frame when idle, advance by 16 per cycle
            if (tx_bit < 0 && !to_board.empty()) {
                tx_frame = static_cast<uint16_t>(0x200 | (to_board.front() << 1));
                to_board.pop_front();
                tx_bit = 0;
                tx_acc = 0;
                bytes_in++;
            }
            top->uart_rx = tx_bit < 0 ? 1 : (tx_frame >> tx_bit) & 1;
            if (tx_bit < 0 && top->rootp->board_top__DOT__receiving) starved++;
            tick();
            if (tx_bit >= 0) {
                tx_acc += 16;
                if (tx_acc >= TB_DIV16) {
                    tx_acc -= TB_DIV16;
                    if (++tx_bit == 10) tx_bit = -1;
                }
            }
            // board → host: sample uart_tx in the middle of each bit
            const int line = top->uart_tx & 1;
            if (rx_bit < 0) {
                if (!line) {
                    rx_bit = 0;
                    rx_cnt = TB_DIV16 / 2;
                }
            } else if ((rx_cnt -= 16) <= 0) {
                rx_cnt += TB_DIV16;
                if (rx_bit >= 1 && rx_bit <= 8) rx_byte = static_cast<uint8_t>((rx_byte >> 1) | (line << 7));
                if (rx_bit == 0 && line) rx_bit = -1;  // a glitch
                else if (rx_bit == 9) {
                    rx_bit = -1;
                    if (line) {
                        from_board.push_back(rx_byte);
                        bytes_out++;
                    }
                } else {
                    rx_bit++;
                }
            }
            idle = (tx_bit < 0 && rx_bit < 0 && line) ? idle + 1 : 0;
        }
        if (!from_board.empty()) {
            if (client >= 0) {
                size_t off = 0;
                while (off < from_board.size()) {
                    ssize_t sent = send(client, from_board.data() + off, from_board.size() - off,
                                        MSG_NOSIGNAL);
                    if (sent <= 0) break;
                    off += static_cast<size_t>(sent);
                }
            }
            from_board.clear();  // nobody listening: the bytes are lost, as on a real UART
        }
    }
    if (client >= 0) close(client);
    close(lsock);
    top->final();
    return 0;
}
