// Example: an Asio application that serves Python and C++ side by side: the worker's routes
// from go_init, /python (its Python handler) and /native (the same work in C++).
// Usage: example_embed [WORKER.py] [PORT]
#include <httpy/app.hpp>
#include <httpy/interpreter.hpp>
#include <httpy/router.hpp>
#include <httpy/io_pool.hpp>
#include <httpy/server.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <atomic>
#include <csignal>
#include <string>

int main(int argc, char** argv) {
    const std::string worker = argc > 1 ? argv[1] : "examples/worker.py";
    const auto port = static_cast<unsigned short>(argc > 2 ? std::stoi(argv[2]) : 8080);

    // Python first, then everything that holds Python references.
    httpy::interpreter python;
    httpy::app app({.handler = {worker, "go_request"},
                    .init = httpy::python_function{worker, "go_init"}});

    // The worker's own routes, then /python and /native to compare.
    httpy::router routes;
    routes.add(app.routes(), app.handler());
    routes.add(httpy::method::get, "/python", app.handler());
    std::atomic<long> requests{0};
    routes.get("/native", [&requests](const httpy::request&) {
        httpy::response r{200, "request #" + std::to_string(++requests), {}};
        r.headers.add("X-Test", "1");
        return r;
    });

    // The server on the application's io_context; SIGINT or SIGTERM stop it gracefully.
    boost::asio::io_context ioc;
    const httpy::server_options options{.port = port};
    httpy::server server(ioc, routes, options);
    server.start();
    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int) { server.stop([&] { ioc.stop(); }); });

    // The IO thread runs the io_context and, on it, the Python calls (a spare thread takes over
    // while a handler blocks).
    httpy::io_pool pool(ioc, options.io_threads, &app.python());
    pool.run();
}
