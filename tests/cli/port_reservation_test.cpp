#include "cli/port_reservation.hpp"

#include "../server/raw_client.hpp"
#include "../server/running_server.hpp"
#include "httpy/router.hpp"

#include <boost/system/system_error.hpp>
#include <doctest/doctest.h>

#include <cerrno>
#include <optional>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using httpy::port_reservation;
using httpy::test::raw_client;

namespace {

enum reuse : int { reuse_none = 0, reuse_addr = 1, reuse_port = 2, reuse_addr_and_port = 3 };

// A TCP socket bound to 127.0.0.1:`port` with SO_REUSEADDR and SO_REUSEPORT as `options` say,
// listening when asked.
class socket_on {
public:
    socket_on(unsigned short port, reuse options, bool listen)
        : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        const int on = 1;
        if (options & reuse_addr)
            ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (options & reuse_port)
            ::setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            error_ = errno;
            return;
        }
        if (listen && ::listen(fd_, 8) != 0) {
            error_ = errno;
            return;
        }
        socklen_t size = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &size);
        port_ = ntohs(a.sin_port);
    }
    ~socket_on() { ::close(fd_); }
    socket_on(const socket_on&) = delete;
    socket_on& operator=(const socket_on&) = delete;

    /// 0 when bound (and listening if asked), else the errno of the call that failed.
    int error() const { return error_; }
    unsigned short port() const { return port_; }

private:
    int fd_;
    int error_ = 0;
    unsigned short port_ = 0;
};

// The errno a reservation of 127.0.0.1:`port` fails with, or 0 when it succeeds.
int reservation_error(unsigned short port) {
    try {
        port_reservation r("127.0.0.1", port);
        return 0;
    } catch (const boost::system::system_error& e) {
        return e.code().value();
    }
}

// An httpy server listening on `port` with SO_REUSEPORT, answering every path with `name`.
httpy::server_options reuse_port_options(unsigned short port) {
    httpy::server_options o;
    o.port = port;
    o.reuse_port = true;
    return o;
}

} // namespace

TEST_CASE("port 0 is resolved to a free port that the reservation then holds") {
    const port_reservation r("127.0.0.1", 0);
    REQUIRE(r.port() != 0);
    // Held: a socket without SO_REUSEPORT cannot bind it.
    const socket_on plain(r.port(), reuse_none, false);
    CHECK(plain.error() == EADDRINUSE);
    // Not listening: the kernel gives it no connection.
    CHECK(raw_client::refused(r.port()));
}

// Linux lets another SO_REUSEADDR socket bind and even listen on a port whose other sockets all
// have SO_REUSEADDR and none listens. So while no worker listens (before the first is up, or
// while all restart) a reservation with SO_REUSEADDR would let another server take the port and
// the workers would then fail to bind; it binds with SO_REUSEPORT alone.
TEST_CASE("a port reserved for the workers cannot be taken meanwhile by a listener with "
          "SO_REUSEADDR") {
    const port_reservation r("127.0.0.1", 0);
    const socket_on intruder(r.port(), reuse_addr, true);
    CHECK_MESSAGE(intruder.error() == EADDRINUSE,
                  "another server listening with SO_REUSEADDR took the reserved port");
}

TEST_CASE("a port something already listens on is refused") {
    const socket_on listener(0, reuse_addr, true);
    REQUIRE(listener.error() == 0);
    CHECK(reservation_error(listener.port()) == EADDRINUSE);
}

TEST_CASE("a port an SO_REUSEPORT listener holds is refused, so workers cannot join its group") {
    const socket_on listener(0, reuse_addr_and_port, true);
    REQUIRE(listener.error() == 0);
    CHECK(reservation_error(listener.port()) == EADDRINUSE);
}

TEST_CASE("a malformed address is refused") {
    CHECK_THROWS_AS(port_reservation("not-an-address", 0), boost::system::system_error);
    CHECK_THROWS_AS(port_reservation("127.0.0.1:80", 0), boost::system::system_error);
}

TEST_CASE("servers listening with reuse_port share the reserved port and each answers") {
    const port_reservation r("127.0.0.1", 0);
    httpy::router first_routes, second_routes;
    first_routes.get("/", [](const httpy::request&) { return httpy::response{200, "first", {}}; });
    second_routes.get("/", [](const httpy::request&) { return httpy::response{200, "second", {}}; });
    httpy::test::running_server first(first_routes, reuse_port_options(r.port()));
    httpy::test::running_server second(second_routes, reuse_port_options(r.port()));
    CHECK(first.port() == r.port());
    CHECK(second.port() == r.port());

    // A listener without SO_REUSEPORT is kept out.
    boost::asio::io_context ioc;
    httpy::server_options plain = reuse_port_options(r.port());
    plain.reuse_port = false;
    httpy::server outsider(ioc, first_routes, plain);
    CHECK_THROWS_AS(outsider.start(), boost::system::system_error);

    // The kernel spreads connections over the group by the client's port: some of a few dozen
    // connections reach each server (the chance that 64 all reach one is 2^-63).
    bool reached_first = false, reached_second = false;
    for (int i = 0; i < 64 && !(reached_first && reached_second); ++i) {
        raw_client client(r.port());
        client.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        const auto response = client.read_response();
        REQUIRE(response);
        reached_first = reached_first || response->body == "first";
        reached_second = reached_second || response->body == "second";
    }
    CHECK(reached_first);
    CHECK(reached_second);
}

TEST_CASE("the port is free again once the reservation is gone") {
    unsigned short port = 0;
    {
        const port_reservation r("127.0.0.1", 0);
        port = r.port();
    }
    const socket_on plain(port, reuse_none, true);
    CHECK(plain.error() == 0);
}
