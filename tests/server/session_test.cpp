#include "httpy/server.hpp"

#include "httpy/router.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <thread>

namespace net = boost::asio;
using net::ip::tcp;

namespace {

// A server on 127.0.0.1:0 with `routes`, its io_context run on a thread, stopped and joined
// when the scope ends.
class running_server {
public:
    explicit running_server(const httpy::router& routes)
        : http_(ioc_, routes, options()), thread_([this] {
              http_.start();
              started_ = true;
              ioc_.run();
          }) {
        while (!started_)
            std::this_thread::yield();
    }

    ~running_server() {
        http_.stop([this] { ioc_.stop(); });
        thread_.join();
    }

    unsigned short port() const { return http_.port(); }

private:
    static httpy::server_options options() {
        httpy::server_options o;
        o.port = 0;
        return o;
    }

    net::io_context ioc_;
    httpy::server http_;
    std::atomic<bool> started_{false};
    std::thread thread_;
};

// Sends `requests` on one connection and reads until the server has sent `until` (or closes).
std::string exchange(unsigned short port, const std::string& requests, const std::string& until) {
    net::io_context client;
    tcp::socket socket(client);
    socket.connect({net::ip::make_address("127.0.0.1"), port});
    net::write(socket, net::buffer(requests));
    std::string received;
    char chunk[4096];
    boost::system::error_code ec;
    while (received.find(until) == std::string::npos) {
        const std::size_t n = socket.read_some(net::buffer(chunk), ec);
        if (ec)
            break;
        received.append(chunk, n);
    }
    return received;
}

} // namespace

TEST_CASE("a native handler that throws gets 500 and the connection serves the next request") {
    httpy::router routes;
    routes.get("/boom", [](const httpy::request&) -> httpy::response {
        throw std::runtime_error("native failure");
    });
    routes.get("/ok", [](const httpy::request&) { return httpy::response{200, "fine", {}}; });
    const running_server server(routes);
    const std::string requests =
        "GET /boom HTTP/1.1\r\nHost: t\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\n\r\n";
    const std::string received = exchange(server.port(), requests, "fine");
    CHECK(received.starts_with("HTTP/1.1 500 "));
    CHECK(received.find("HTTP/1.1 200 ") != std::string::npos);
    CHECK(received.ends_with("fine"));
}

TEST_CASE("a native handler throwing something that is not a std::exception also gets 500") {
    httpy::router routes;
    routes.get("/boom", [](const httpy::request&) -> httpy::response { throw 42; });
    const running_server server(routes);
    const std::string received =
        exchange(server.port(), "GET /boom HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                 "\r\n\r\n");
    CHECK(received.starts_with("HTTP/1.1 500 "));
}
