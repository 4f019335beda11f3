#pragma once

#include <string>

namespace httpy {

/// Holds `host:port` for worker processes that each listen on it with `SO_REUSEPORT`: checks
/// that nothing listens there yet, resolves port 0 to a free port, and keeps a bound (not
/// listening) socket so the port stays the workers' while the supervisor runs. The kernel hands
/// connections only to listening sockets, so the reservation never takes one.
class port_reservation {
public:
    /// Throws: boost::system::system_error when the address is malformed or already in use.
    port_reservation(const std::string& host, unsigned short port);
    ~port_reservation();
    port_reservation(const port_reservation&) = delete;
    port_reservation& operator=(const port_reservation&) = delete;

    /// The reserved port (the one the kernel chose when asked for port 0).
    unsigned short port() const noexcept { return port_; }

private:
    int fd_ = -1;
    unsigned short port_ = 0;
};

} // namespace httpy
