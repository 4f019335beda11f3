#include "httpy/server.hpp"

#include "httpy/app.hpp"
#include "httpy/router.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>

namespace net = boost::asio;
using net::ip::tcp;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

// A server on 127.0.0.1:0 with `routes` and `drain`, its io_context run on a thread until the
// scope ends (kept running by a work guard, so that stop callbacks can be checked one by one).
class running_server {
public:
    running_server(const httpy::router& routes, std::chrono::milliseconds drain)
        : http_(ioc_, routes, options(drain)) {
        http_.start();
        thread_ = std::thread([this] { ioc_.run(); });
    }

    ~running_server() {
        http_.stop();
        guard_.reset();
        ioc_.stop();
        thread_.join();
    }

    httpy::server& http() { return http_; }

private:
    static httpy::server_options options(std::chrono::milliseconds drain) {
        httpy::server_options o;
        o.port = 0;
        o.drain_timeout = drain;
        return o;
    }

    net::io_context ioc_;
    net::executor_work_guard<net::io_context::executor_type> guard_{ioc_.get_executor()};
    httpy::server http_;
    std::thread thread_;
};

// A client that sends one request on a connection of its own.
class client {
public:
    client(unsigned short port, const std::string& request) : socket_(ioc_) {
        socket_.connect({net::ip::make_address("127.0.0.1"), port});
        net::write(socket_, net::buffer(request));
    }

    // Everything the server sends until it closes the connection.
    std::string read_to_close() {
        std::string received;
        char chunk[4096];
        boost::system::error_code ec;
        for (;;) {
            const std::size_t n = socket_.read_some(net::buffer(chunk), ec);
            if (ec)
                return received;
            received.append(chunk, n);
        }
    }

private:
    net::io_context ioc_;
    tcp::socket socket_;
};

bool has_line(const std::string& response, const std::string& line) {
    return response.find("\r\n" + line + "\r\n") != std::string::npos;
}

// Runs a request to `app` into its drain deadline: the answer and when it came after the stop.
struct drained_request {
    std::string response;
    double answered_after = 0; // seconds from stop() to the connection's close
    double stopped_after = 0;  // seconds from stop() to its `done`
};

drained_request stop_while_running(httpy::app& app, const std::string& request,
                                   std::chrono::milliseconds drain) {
    httpy::router routes;
    routes.fallback(app.handler());
    running_server server(routes, drain);
    client c(server.http().port(), request);
    std::this_thread::sleep_for(300ms); // the call is running now
    std::promise<double> stopped;
    const auto start = clock_type::now();
    server.http().stop([&] { stopped.set_value(seconds_since(start)); });
    drained_request result;
    result.response = c.read_to_close();
    result.answered_after = seconds_since(start);
    auto done = stopped.get_future();
    REQUIRE_MESSAGE(done.wait_for(5s) == std::future_status::ready, "the stop never completed");
    result.stopped_after = done.get();
    return result;
}

} // namespace

TEST_CASE("a second stop caller is told when the stop completes, and a later one at once") {
    const httpy::router routes;
    running_server server(routes, 10s);
    std::promise<void> first, second;
    server.http().stop([&] { first.set_value(); });
    server.http().stop([&] { second.set_value(); });
    CHECK(first.get_future().wait_for(5s) == std::future_status::ready);
    CHECK_MESSAGE(second.get_future().wait_for(5s) == std::future_status::ready,
                  "the second caller's done never ran");
    bool third = false;
    server.http().stop([&] { third = true; });
    CHECK_MESSAGE(third, "a stop after the stop completed must run its done at once");
}

TEST_CASE("a stop with nothing in flight completes at once, whatever the drain timeout") {
    const httpy::router routes;
    running_server server(routes, 10s);
    std::promise<void> done;
    const auto start = clock_type::now();
    server.http().stop([&] { done.set_value(); });
    REQUIRE(done.get_future().wait_for(5s) == std::future_status::ready);
    CHECK(seconds_since(start) < 1.0);
}

TEST_CASE("a sync handler still running at the drain deadline is answered 503 with Connection: "
          "close and Retry-After, then the stop completes") {
    httpy::app sleepy({.handler = {HTTPY_TEST_DATA "/handlers.py", "sleepy"}});
    const auto r = stop_while_running(sleepy, "GET /?seconds=2 HTTP/1.1\r\nHost: t\r\n\r\n", 400ms);
    CAPTURE(r.response);
    CHECK(r.response.starts_with("HTTP/1.1 503 "));
    CHECK(has_line(r.response, "Connection: close"));
    CHECK(has_line(r.response, "Retry-After: 1"));
    CHECK(r.answered_after >= 0.35);
    CHECK_MESSAGE(r.answered_after < 1.0,
                  "answered when the handler returned, not at the deadline");
    CHECK(r.stopped_after < 1.5);
}

TEST_CASE("a coroutine ignoring its cancellation is answered 503 at the drain deadline") {
    httpy::app ignoring({.handler = {HTTPY_TEST_DATA "/handlers.py", "async_ignores_cancel"}});
    const auto r = stop_while_running(ignoring, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 400ms);
    CAPTURE(r.response);
    CHECK(r.response.starts_with("HTTP/1.1 503 "));
    CHECK(has_line(r.response, "Connection: close"));
    CHECK(r.answered_after < 1.0);
    CHECK(r.stopped_after < 1.5);
}

TEST_CASE("a handler that returns inside the drain deadline gets its own answer") {
    httpy::app sleepy({.handler = {HTTPY_TEST_DATA "/handlers.py", "sleepy"}});
    const auto r =
        stop_while_running(sleepy, "GET /?seconds=0.6 HTTP/1.1\r\nHost: t\r\n\r\n", 2000ms);
    CAPTURE(r.response);
    CHECK(r.response.starts_with("HTTP/1.1 200 "));
    CHECK(has_line(r.response, "Connection: close"));
    CHECK(r.response.ends_with("slept"));
    CHECK(r.stopped_after < 1.0);
}
