#include "cli/port_reservation.hpp"

#include <boost/system/system_error.hpp>

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace httpy {

namespace {

[[noreturn]] void fail(int error) {
    throw boost::system::system_error(error, boost::system::system_category());
}

struct address {
    sockaddr_storage storage{};
    socklen_t size = 0;
    int family = AF_INET;
};

address make_address(const std::string& host, unsigned short port) {
    address a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.size = sizeof *v4;
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a.size = sizeof *v6;
        a.family = AF_INET6;
    } else {
        fail(EINVAL);
    }
    return a;
}

enum reuse : int { reuse_addr = 1, reuse_port = 2 };

// A socket bound to `a` with SO_REUSEADDR and SO_REUSEPORT as `options` say; -1 with errno set
// on failure.
int bind_socket(const address& a, int options) {
    const int fd = ::socket(a.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    const int on = 1;
    if (options & reuse_addr)
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (options & reuse_port)
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.size) != 0) {
        const int error = errno;
        ::close(fd);
        errno = error;
        return -1;
    }
    return fd;
}

unsigned short bound_port(int fd) {
    sockaddr_storage bound{};
    socklen_t size = sizeof bound;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &size);
    return ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

} // namespace

port_reservation::port_reservation(const std::string& host, unsigned short port) {
    address a = make_address(host, port);
    // Without SO_REUSEPORT the probe fails on any listener, also one that would otherwise let
    // the workers join its SO_REUSEPORT group (another server of the same user, say).
    const int probe = bind_socket(a, reuse_addr);
    if (probe < 0)
        fail(errno);
    port_ = bound_port(probe);
    ::close(probe);
    a = make_address(host, port_);
    // SO_REUSEPORT alone, so that no SO_REUSEADDR server can bind beside the reservation while
    // no worker listens (Linux lets SO_REUSEADDR sockets share a port none of them listens on);
    // with SO_REUSEADDR too only when connections of an earlier server without SO_REUSEPORT
    // still sit in TIME_WAIT on the port.
    fd_ = bind_socket(a, reuse_port);
    if (fd_ < 0 && errno == EADDRINUSE)
        fd_ = bind_socket(a, reuse_addr | reuse_port);
    if (fd_ < 0)
        fail(errno);
}

port_reservation::~port_reservation() {
    if (fd_ >= 0)
        ::close(fd_);
}

} // namespace httpy
