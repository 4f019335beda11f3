// Example: your own Boost.Beast server, without httpy's: /python is answered by a Python
// handler through an httpy::app, /native in C++, anything else 404.
// Usage: example_beast_server [WORKER.py] [PORT]   (port 0 picks a free one)
#include <httpy/app.hpp>
#include <httpy/beast.hpp>
#include <httpy/interpreter.hpp>
#include <httpy/status.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <chrono>
#include <csignal>
#include <iostream>
#include <optional>
#include <string>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// The one call into Python. Every outcome is a response to send (500, 503, 504 on failure,
// with the reason in `error`); none throws.
net::awaitable<httpy::response> ask_python(httpy::app& app, httpy::request req) {
    httpy::call_result r = co_await app.async_request(std::move(req), net::use_awaitable);
    co_return std::move(r.resp);
}

// Routing stays the application's: Python for /python, C++ for /native.
net::awaitable<httpy::beast_response> handle(httpy::app& app, httpy::beast_request& req) {
    std::optional<httpy::request> r = httpy::from_beast(req);
    if (!r)
        co_return httpy::to_beast(httpy::status_response(400), req);
    if (r->path == "/native")
        co_return httpy::to_beast({200, "hello from C++", {}}, req);
    if (r->path != "/python")
        co_return httpy::to_beast(httpy::status_response(404), req);
    httpy::response answer = co_await ask_python(app, std::move(*r));
    co_return httpy::to_beast(std::move(answer), req);
}

// One coroutine per connection: read a request, answer it, keep alive or close.
net::awaitable<void> session(beast::tcp_stream stream, httpy::app& app) {
    beast::flat_buffer buffer;
    for (;;) {
        // Read the next request within 30 s; end of stream, timeout or a bad request: close.
        httpy::beast_request req;
        stream.expires_after(std::chrono::seconds(30));
        if (auto [ec, n] = co_await http::async_read(stream, buffer, req, use_tuple); ec)
            break;
        // Answer it (the Python handler's own timeout bounds the wait), write it within 30 s.
        stream.expires_never();
        httpy::beast_response res = co_await handle(app, req);
        stream.expires_after(std::chrono::seconds(30));
        auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
        if (ec || !res.keep_alive())
            break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// Accept connections, one session coroutine each.
net::awaitable<void> listen(tcp::acceptor& acceptor, httpy::app& app) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
        if (ec)
            co_return;
        net::co_spawn(acceptor.get_executor(), session(beast::tcp_stream(std::move(socket)), app),
                      net::detached);
    }
}

int main(int argc, char** argv) {
    const std::string worker = argc > 1 ? argv[1] : "examples/worker.py";
    const auto port = static_cast<unsigned short>(argc > 2 ? std::stoi(argv[2]) : 8080);

    // Python first; the io_context next, so that it outlives the app's pending completions.
    httpy::interpreter python;
    net::io_context ioc;
    httpy::app app({.handler = {worker, "go_request"}});

    // Listen, and say where.
    tcp::acceptor acceptor(ioc, {net::ip::make_address("127.0.0.1"), port});
    std::cout << "listening on http://127.0.0.1:" << acceptor.local_endpoint().port() << std::endl;
    net::co_spawn(ioc, listen(acceptor, app), net::detached);

    // SIGINT or SIGTERM stops the io_context.
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](beast::error_code, int) { ioc.stop(); });

    // This thread runs the io_context alone. It is no httpy IO thread, so Python handlers run on
    // the app's own Python threads: one that blocks never stalls this thread.
    ioc.run();
}
