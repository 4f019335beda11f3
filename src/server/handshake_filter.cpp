#include "server/handshake_filter.hpp"

#include <linux/filter.h>
#include <sys/socket.h>

namespace httpy::detail {

bool stop_new_handshakes(int fd) noexcept {
    // A TCP socket's filter sees the segment from its TCP header: byte 13 holds the flags.
    constexpr unsigned tcp_flags = 13, ack = 0x10, syn = 0x02;
    sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, tcp_flags),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, ack, 2, 0), // ACK: part of a handshake or a stream
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, syn, 0, 1), // SYN alone: a new connection
        BPF_STMT(BPF_RET | BPF_K, 0),                    // dropped
        BPF_STMT(BPF_RET | BPF_K, 0xFFFFFFFF),           // kept whole
    };
    const sock_fprog program{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
    return ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) == 0;
}

} // namespace httpy::detail
