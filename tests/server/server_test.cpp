#include "httpy/server.hpp"

#include "httpy/router.hpp"
#include "raw_client.hpp"
#include "running_server.hpp"

#include <boost/system/system_error.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <string>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;
using httpy::test::close_outcome;
using httpy::test::eventually;
using httpy::test::raw_client;
using httpy::test::running_server;

namespace {

// Every path answered with itself, so an answer shows which request it belongs to.
httpy::router echo_routes() {
    httpy::router routes;
    routes.get("/*path", [](const httpy::request& req) {
        return httpy::response{200, req.path, {}};
    });
    return routes;
}

std::string get(std::string_view path, std::string_view extra = {}) {
    return "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}

// A listening socket on 127.0.0.1:<any>, without SO_REUSEPORT; closed at the end of the scope.
struct plain_listener {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unsigned short port = 0;

    plain_listener() {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd, 8) == 0);
        socklen_t size = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &size);
        port = ntohs(a.sin_port);
    }
    ~plain_listener() { ::close(fd); }
};

} // namespace

TEST_CASE("port() is 0 before start and the port the kernel chose after binding port 0") {
    const httpy::router routes = echo_routes();
    boost::asio::io_context ioc;
    httpy::server http(ioc, routes, httpy::test::test_options());
    CHECK(http.port() == 0);
    http.start();
    CHECK(http.port() != 0);
    // The port is really bound: a second listener on it cannot bind.
    httpy::server_options same = httpy::test::test_options();
    same.port = http.port();
    httpy::server other(ioc, routes, same);
    CHECK_THROWS_AS(other.start(), boost::system::system_error);
}

TEST_CASE("start on a port another socket listens on throws system_error") {
    const httpy::router routes = echo_routes();
    const plain_listener busy;
    httpy::server_options options = httpy::test::test_options();
    options.port = busy.port;
    boost::asio::io_context ioc;
    httpy::server http(ioc, routes, options);
    CHECK_THROWS_AS(http.start(), boost::system::system_error);
}

TEST_CASE("a keep-alive connection answers one request after another") {
    const httpy::router routes = echo_routes();
    running_server server(routes);
    raw_client client(server.port());
    for (const char* path : {"/one", "/two", "/three"}) {
        client.send(get(path));
        const auto r = client.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == path);
        CHECK(r->all("Connection").empty()); // HTTP/1.1 keeps the connection without saying so
    }
    CHECK(server.get().connections() == 1);
    CHECK(server.get().requests() == 3);
}

TEST_CASE("pipelined requests sent in one write are answered in order") {
    const httpy::router routes = echo_routes();
    running_server server(routes);
    raw_client client(server.port());
    std::string requests;
    for (int i = 0; i < 20; ++i)
        requests += get("/pipe/" + std::to_string(i));
    client.send(requests);
    for (int i = 0; i < 20; ++i) {
        const auto r = client.read_response();
        REQUIRE_MESSAGE(r, "the connection ended after ", i, " responses");
        CHECK(r->status == 200);
        CHECK(r->body == "/pipe/" + std::to_string(i));
    }
    CHECK(client.wait_for_close(200ms) == close_outcome::timed_out); // and stays open
}

TEST_CASE("connections() counts open connections and requests() the requests read in full") {
    const httpy::router routes = echo_routes();
    running_server server(routes);
    auto& http = server.get();
    CHECK(http.connections() == 0);
    CHECK(http.requests() == 0);
    {
        raw_client a(server.port());
        raw_client b(server.port());
        a.send(get("/a") + get("/a2"));
        b.send(get("/b"));
        REQUIRE(a.read_response());
        REQUIRE(a.read_response());
        REQUIRE(b.read_response());
        CHECK(http.connections() == 2);
        CHECK(http.requests() == 3);

        { // A malformed request is answered (400) but not counted.
            raw_client bad(server.port());
            bad.send("GET / HTTZ/1.1\r\nHost: t\r\n\r\n");
            const auto r = bad.read_response();
            REQUIRE(r);
            CHECK(r->status == 400);
            CHECK(http.requests() == 3);
        }
        CHECK(eventually([&] { return http.connections() == 2; })); // `bad` is gone

        // A request whose head is in (the 100 Continue says so) but not its body is not
        // counted until the body is in.
        a.send("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n"
               "Expect: 100-continue\r\n\r\n");
        const auto interim = a.read_response();
        REQUIRE(interim);
        CHECK(interim->status == 100);
        a.send("12345");
        CHECK(http.requests() == 3);
        a.send("67890");
        const auto posted = a.read_response();
        REQUIRE(posted);
        CHECK(posted->status == 405); // the route is GET only; the request was read all the same
        CHECK(http.requests() == 4);
    }
    CHECK(eventually([&] { return http.connections() == 0; }));
    CHECK(http.requests() == 4);
}

TEST_CASE("a connection beyond max_connections gets 503 with Retry-After and is closed") {
    const httpy::router routes = echo_routes();
    httpy::server_options options = httpy::test::test_options();
    options.max_connections = 1;
    running_server server(routes, options);
    {
        raw_client held(server.port());
        held.send(get("/held"));
        REQUIRE(held.read_response()); // accepted and counted
        CHECK(server.get().connections() == 1);

        raw_client over(server.port());
        over.send(get("/over"));
        const auto r = over.read_response();
        REQUIRE(r);
        CHECK(r->status == 503);
        CHECK(r->header("Retry-After") == "1");
        CHECK(r->header("Connection") == "close");
        CHECK(over.wait_for_close() != close_outcome::timed_out);
        CHECK(server.get().connections() == 1);
        CHECK(server.get().requests() == 1); // the refused connection's request is not read

        held.send(get("/still-held"));
        const auto again = held.read_response();
        REQUIRE(again);
        CHECK(again->body == "/still-held");
    }
    // Once the held connection is gone there is room again.
    REQUIRE(eventually([&] { return server.get().connections() == 0; }));
    raw_client next(server.port());
    next.send(get("/next"));
    const auto r = next.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
}

TEST_CASE("stop closes idle connections at once, lets the in-flight request finish with "
          "Connection: close, then calls done") {
    httpy::test::gate handler_entered, release_handler;
    httpy::router routes = echo_routes();
    routes.get("/slow", [&](const httpy::request&) {
        handler_entered.open();
        // Blocks its io thread on purpose: with two threads, the other runs the stop.
        release_handler.wait();
        return httpy::response{200, "slow done", {}};
    });
    httpy::server_options options = httpy::test::test_options();
    options.drain_timeout = 60s; // a close seen in this test is never the drain deadline's
    running_server server(routes, options, 2);
    struct open_at_exit {
        httpy::test::gate& g;
        ~open_at_exit() { g.open(); }
    } unblock{release_handler}; // a failing check must not leave the handler (and join) hanging

    raw_client idle(server.port());
    idle.send(get("/idle"));
    REQUIRE(idle.read_response());
    raw_client busy(server.port());
    busy.send(get("/slow"));
    REQUIRE(handler_entered.wait());

    std::atomic<bool> done{false};
    server.stop([&] { done = true; });
    // The only free io thread runs the stop, so the idle connection's close (posted by the stop)
    // runs after the stop has marked every connection closing.
    CHECK(idle.wait_for_close(5s) == close_outcome::closed);
    CHECK(raw_client::refused(server.port()));
    CHECK_FALSE(done); // the in-flight request is still running
    CHECK(eventually([&] { return server.get().connections() == 1; }));

    release_handler.open();
    const auto r = busy.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "slow done");
    CHECK(r->header("Connection") == "close");
    CHECK(busy.wait_for_close() == close_outcome::closed);
    CHECK(eventually([&] { return done.load(); }));
    CHECK(server.get().connections() == 0);
}

TEST_CASE("stop with no connection calls done, and connecting afterwards is refused") {
    const httpy::router routes = echo_routes();
    running_server server(routes);
    const unsigned short port = server.port();
    {
        raw_client before(port);
        before.send(get("/before"));
        REQUIRE(before.read_response());
    }
    REQUIRE(eventually([&] { return server.get().connections() == 0; }));
    std::atomic<int> calls{0};
    server.stop([&] { ++calls; });
    CHECK(eventually([&] { return calls == 1; }));
    CHECK(raw_client::refused(port));
    CHECK(calls == 1);
}

TEST_CASE("a connection that had sent nothing when the stop began is still answered, with "
          "Connection: close") {
    const httpy::router routes = echo_routes();
    httpy::server_options options = httpy::test::test_options();
    options.drain_timeout = 60s;
    running_server server(routes, options);
    raw_client fresh(server.port());
    REQUIRE(eventually([&] { return server.get().connections() == 1; }));
    // On the one io thread the stop, posted first, runs before the request is read.
    server.stop();
    fresh.send(get("/late"));
    const auto r = fresh.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "/late");
    CHECK(r->header("Connection") == "close");
    CHECK(fresh.wait_for_close() == close_outcome::closed);
    CHECK(eventually([&] { return server.stopped(); }));
}

TEST_CASE("a connection that sends nothing after the stop began is closed after a short grace, "
          "not at the drain timeout") {
    const httpy::router routes = echo_routes();
    httpy::server_options options = httpy::test::test_options();
    options.drain_timeout = 60s;
    running_server server(routes, options);
    raw_client silent(server.port());
    REQUIRE(eventually([&] { return server.get().connections() == 1; }));
    server.stop();
    CHECK(silent.wait_for_close(10s) == close_outcome::closed);
    CHECK(eventually([&] { return server.stopped(); }));
}
