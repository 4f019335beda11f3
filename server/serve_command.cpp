#include "server/serve_command.hpp"

#include "httpy/app.hpp"
#include "httpy/config_error.hpp"
#include "httpy/interpreter.hpp"
#include "httpy/router.hpp"
#include "server/detail/app_spec.hpp"
#include "server/fd_limit.hpp"
#include "server/io_pool.hpp"
#include "server/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <stdexcept>

namespace httpy::cli {

namespace net = boost::asio;

namespace {

constexpr int exit_setup = 2;

app_options make_app_options(const serve_options& options) {
    app_options o = detail::app_spec(options.handler, options.init);
    o.python = options.python;
    return o;
}

router make_router(app& application) {
    router routes;
    if (application.has_init())
        routes.add(application.routes(), application);
    else
        routes.fallback(python_handler{&application});
    return routes;
}

int serve(const serve_options& options) {
    raise_open_file_limit(options.http.max_connections);
    interpreter python;
    app application(make_app_options(options));
    const router routes = make_router(application);

    net::io_context ioc;
    server http(ioc, routes, options.http);
    http.start();
    io_pool pool(ioc, options.http.io_threads, &application.python());
    spdlog::info("httpy listening on http://{}:{} ({} routes from {}, {} IO threads, {} Python "
                 "threads)",
                 options.http.host, http.port(), application.routes().routes().size(),
                 application.has_init() ? "the init function" : "no init function (every path goes to the handler)",
                 pool.threads_wanted(), options.python.threads);

    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int signal) {
        if (ec)
            return;
        spdlog::info("signal {}: stopping; in-flight requests get {} ms", signal,
                     options.http.drain_timeout.count());
        http.stop([&] { ioc.stop(); });
    });
    pool.run();
    spdlog::info("stopped");
    return 0;
}

} // namespace

void parse_bind(const std::string& bind, server_options& options) {
    const auto colon = bind.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == bind.size())
        throw std::invalid_argument("bad --bind \"" + bind + "\": expected HOST:PORT");
    std::string host = bind.substr(0, colon);
    if (host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    const std::string port = bind.substr(colon + 1);
    std::size_t used = 0;
    unsigned long value = 0;
    try {
        value = std::stoul(port, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != port.size() || value > 65535)
        throw std::invalid_argument("bad --bind \"" + bind + "\": the port must be 0..65535");
    options.host = std::move(host);
    options.port = static_cast<unsigned short>(value);
}

int run_serve(const serve_options& options) {
    try {
        return serve(options);
    } catch (const config_error& e) {
        spdlog::error("{}", e.what());
    } catch (const boost::system::system_error& e) {
        spdlog::error("cannot listen on {}:{}: {}", options.http.host, options.http.port,
                      e.code().message());
    }
    return exit_setup;
}

} // namespace httpy::cli
