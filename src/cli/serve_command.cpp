#include "cli/serve_command.hpp"

#include "httpy/app.hpp"
#include "httpy/metrics.hpp"
#include "httpy/config_error.hpp"
#include "httpy/interpreter.hpp"
#include "httpy/router.hpp"
#include "cli/admin_listener.hpp"
#include "cli/app_spec.hpp"
#include "cli/exit_deadline.hpp"
#include "cli/fd_limit.hpp"
#include "httpy/io_pool.hpp"
#include "cli/log_pattern.hpp"
#include "cli/port_reservation.hpp"
#include "httpy/server.hpp"
#include "cli/stop_signals.hpp"
#include "cli/supervisor.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <csignal>
#include <chrono>
#include <memory>
#include <stdexcept>

#include <unistd.h>

namespace httpy::cli {

namespace net = boost::asio;

namespace {

constexpr int exit_setup = 2;
// How often a worker compares its request count with its limit.
constexpr std::chrono::milliseconds request_limit_check{250};
// How long after the drain deadline a stopping process exits at the latest (exit_deadline),
// whatever its handlers do: the server's half second to send the drain's 503s, then the
// tear-down. Also the most the tear-down may take once the stop has completed.
constexpr std::chrono::milliseconds exit_margin{1'500};
// What a supervisor adds to a worker's drain timeout, from the SIGTERM it sends, before it
// kills the worker: longer than the worker's own exit_margin, so only a worker that ignores
// SIGTERM or is stuck outside httpy's control gets there.
constexpr std::chrono::milliseconds stop_margin{5'000};
static_assert(stop_margin > exit_margin);

app_options make_app_options(const serve_options& options) {
    app_options o = detail::app_spec(options.app);
    const loop_kind loop = o.python.event_loop;
    o.python = options.python;
    o.python.event_loop = loop;
    o.multiprocess = options.workers > 1;
    return o;
}

router make_router(app& application) {
    router routes;
    if (application.has_init())
        routes.add(application.routes(), application.handler());
    else
        routes.fallback(application.handler());
    return routes;
}

// With worker processes, a worker tells its supervisor once it reaches its request limit.
net::awaitable<void> watch_request_limit(const server& http, std::uint64_t limit,
                                         const worker_link& supervisor) {
    net::steady_timer timer(co_await net::this_coro::executor);
    for (;;) {
        timer.expires_after(request_limit_check);
        co_await timer.async_wait(net::use_awaitable);
        if (http.requests() >= limit) {
            supervisor.replace_me();
            co_return;
        }
    }
}

// The graceful stop of a serving process: with a drain delay, first `/readyz` fails and every
// response closes its connection while the server still serves; then the server's own stop
// (`server::stop`), after which the IO loop ends.
class graceful_stop {
public:
    graceful_stop(net::io_context& ioc, server& http, const serve_options& options,
                  exit_deadline& last_resort)
        : ioc_(ioc), http_(http), options_(options), last_resort_(last_resort), delay_(ioc) {}

    /// Set from the first stop signal on: what `/readyz` reports.
    const std::atomic<bool>& draining() const noexcept { return draining_; }

    /// Runs once the server has stopped, before the IO loop ends (a worker's final metrics).
    void on_stopped(std::function<void()> f) { on_stopped_ = std::move(f); }

    void operator()(int signal) {
        using clock = exit_deadline::clock;
        draining_ = true;
        last_resort_.no_later_than(clock::now() + options_.drain_delay +
                                   options_.http.drain_timeout + exit_margin);
        if (options_.drain_delay.count() == 0)
            return drain(signal);
        spdlog::info("signal {}: not ready; serving {} ms more with Connection: close, then "
                     "stopping",
                     signal, options_.drain_delay.count());
        http_.end_keep_alive();
        delay_.expires_after(options_.drain_delay);
        delay_.async_wait([this, signal](boost::system::error_code) { drain(signal); });
    }

private:
    void drain(int signal) {
        spdlog::info("signal {}: stopping; in-flight requests get {} ms", signal,
                     options_.http.drain_timeout.count());
        http_.stop([this] {
            last_resort_.no_later_than(exit_deadline::clock::now() + exit_margin);
            if (on_stopped_)
                on_stopped_();
            ioc_.stop();
        });
    }

    net::io_context& ioc_;
    server& http_;
    const serve_options& options_;
    exit_deadline& last_resort_;
    net::steady_timer delay_;
    std::atomic<bool> draining_{false};
    std::function<void()> on_stopped_;
};

// A worker's metrics page, in the Prometheus text its supervisor merges.
std::string worker_page(const server& http, const executor& python) {
    metrics_writer page(metrics_format::prometheus);
    write_serving_metrics(page, http, python);
    return std::move(page).finish();
}

// In a worker whose supervisor serves the admin listener: answers each scrape request that
// comes down the link with this worker's page.
net::awaitable<void> answer_scrapes(const worker_link& supervisor, const server& http,
                                    const executor& python) {
    net::posix::stream_descriptor link(co_await net::this_coro::executor, ::dup(supervisor.fd()));
    char requests[64];
    for (;;) {
        auto [ec, n] = co_await link.async_read_some(net::buffer(requests),
                                                     net::as_tuple(net::use_awaitable));
        if (ec)
            co_return; // the supervisor has gone, or the IO loop stops
        for (std::size_t i = 0; i < n; ++i)
            if (requests[i] == worker_link::scrape_request)
                supervisor.send_metrics(worker_page(http, python));
    }
}

// The admin listener, when `--admin-bind` asks for one; started at once (the app is loaded).
std::unique_ptr<admin_listener> start_admin(net::io_context& ioc, const serve_options& options,
                                            const server& http, const executor& python,
                                            const std::atomic<bool>& draining) {
    if (options.admin_bind.empty())
        return nullptr;
    auto admin = std::make_unique<admin_listener>(ioc, options.admin_bind, http, python, draining);
    try {
        admin->start();
    } catch (const boost::system::system_error& e) {
        throw config_error("cannot listen on the admin address " + options.admin_bind + ": " +
                           e.code().message());
    }
    spdlog::info("admin listener on http://{}:{} (/metrics, /healthz, /readyz)", admin->host(),
                 admin->port());
    return admin;
}

// SIGHUP in a single process: the connections accepted from now on get the TLS files as they are
// now; a file that does not load leaves the certificate in use as it was.
void reload_tls(server& http) {
    if (!http.tls()) {
        spdlog::info("signal {}: nothing to reload (no TLS); serving on", SIGHUP);
        return;
    }
    try {
        http.reload_tls();
        spdlog::info("signal {}: TLS certificate reloaded; new connections use it", SIGHUP);
    } catch (const config_error& e) {
        spdlog::error("signal {}: {}; the certificate in use stays", SIGHUP, e.what());
    }
}

// Serves in this process; `supervisor` is set in a worker process.
int serve(const serve_options& options, const worker_link* supervisor) {
    catch_stop_signals_early(supervisor != nullptr); // before any thread, import or listen
    exit_deadline last_resort;                        // outlives the tear-down it bounds
    raise_open_file_limit(options.http.max_connections);
    interpreter python({.venv = detail::venv_of(options.app)});
    // Before the app: a call still running when the app is destroyed holds its completion,
    // bound to a connection's strand, which must be destroyed while its io_context lives.
    net::io_context ioc;
    app application(make_app_options(options));
    const router routes = make_router(application);

    server_options http_options = options.http;
    http_options.metrics = !options.admin_bind.empty();
    server http(ioc, routes, http_options);
    http.start();
    graceful_stop stop(ioc, http, options, last_resort);
    // A worker's admin listener is its supervisor's, which asks it for its metrics.
    const auto admin = supervisor ? nullptr
                                  : start_admin(ioc, options, http, application.python(),
                                                stop.draining());
    io_pool pool(ioc, options.http.io_threads, &application.python());
    // Before the start-up line, which tells a client (and tests) that signals are taken.
    stop_signals signals(
        ioc, supervisor != nullptr, [&](int signal) { stop(signal); },
        [&] {
            spdlog::info("signal {}: reopening the access log", SIGUSR1);
            http.reopen_access_log();
        },
        [&] { reload_tls(http); });
    const python_function& handler = application.handler_function();
    spdlog::info("{} on {}://{}:{} ({} app {}:{}; {}; {} IO threads, {} Python threads)",
                 supervisor ? "serving" : "httpy listening", http.tls() ? "https" : "http",
                 options.http.host, http.port(),
                 to_string(application.interface()), handler.module, handler.function,
                 application.has_init()
                     ? std::to_string(application.routes().routes().size()) +
                           " routes from the init function"
                     : std::string("every path goes to it"),
                 pool.threads_wanted(), options.python.threads);
    if (supervisor && !options.admin_bind.empty()) {
        net::co_spawn(ioc, answer_scrapes(*supervisor, http, application.python()), net::detached);
        stop.on_stopped([&] { supervisor->send_final_metrics(worker_page(http, application.python())); });
    }
    if (supervisor) {
        supervisor->ready();
        if (options.max_requests > 0)
            net::co_spawn(ioc, watch_request_limit(http, options.max_requests, *supervisor),
                          net::detached);
    }
    pool.run();
    spdlog::info("stopped");
    return 0;
}

// Runs `serve_or_supervise`; a setup error becomes one log line and exit code 2.
template <class Function>
int reporting_setup_errors(const server_options& http, Function serve_or_supervise) {
    try {
        return serve_or_supervise();
    } catch (const config_error& e) {
        spdlog::error("{}", e.what());
    } catch (const boost::system::system_error& e) {
        spdlog::error("cannot listen on {}:{}: {}", http.host, http.port, e.code().message());
    }
    return exit_setup;
}

bool supervised(const serve_options& options) {
    return options.workers > 0 || options.max_requests > 0 || options.max_worker_memory_mib > 0 ||
           options.reload;
}

// The folder `--reload` watches: the app file's, or for a module the current folder, where
// Python finds it.
std::string source_folder(const std::string& handler) {
    namespace fs = std::filesystem;
    std::string file = handler.substr(0, handler.rfind(':') == std::string::npos
                                             ? handler.size()
                                             : handler.rfind(':'));
    std::error_code ec;
    if (file.ends_with(".py"))
        return fs::absolute(fs::path(file).parent_path(), ec).lexically_normal().string();
    return fs::current_path(ec).string();
}

// A supervisor with worker processes that share the reserved port with SO_REUSEPORT.
int supervise_workers(const serve_options& options) {
    port_reservation reserved(options.http.host, options.http.port);
    serve_options worker = options;
    worker.http.port = reserved.port();
    worker.http.reuse_port = true;
    supervisor_options supervision;
    supervision.workers = std::max<std::size_t>(options.workers, 1);
    supervision.max_worker_memory = options.max_worker_memory_mib << 20;
    supervision.stop_timeout = options.drain_delay + options.http.drain_timeout + stop_margin;
    if (options.reload)
        supervision.watch_sources = source_folder(options.app.handler);
    if (!options.admin_bind.empty())
        supervision.admin = admin_bind_options(options.admin_bind);
    return supervise(
        supervision,
        [&](worker_link& link) {
            spdlog::set_pattern(log_pattern("worker %P: "));
            return reporting_setup_errors(worker.http, [&] { return serve(worker, &link); });
        },
        [&] {
            spdlog::info("httpy listening on {}://{}:{} ({} worker processes, supervisor {})",
                         worker.http.certfile.empty() ? "http" : "https", worker.http.host,
                         worker.http.port, supervision.workers, ::getpid());
        });
}

} // namespace

void parse_bind(const std::string& bind, server_options& options, std::string_view option) {
    const auto colon = bind.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == bind.size())
        throw std::invalid_argument("bad " + std::string(option) + " \"" + bind +
                                    "\": expected HOST:PORT");
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
        throw std::invalid_argument("bad " + std::string(option) + " \"" + bind +
                                    "\": the port must be 0..65535");
    options.host = std::move(host);
    options.port = static_cast<unsigned short>(value);
}

int run_serve(const serve_options& options) {
    if (!supervised(options))
        return reporting_setup_errors(options.http, [&] { return serve(options, nullptr); });
    return reporting_setup_errors(options.http, [&] { return supervise_workers(options); });
}

} // namespace httpy::cli
