#include "cli/admin_listener.hpp"

#include "cli/serve_command.hpp"
#include "httpy/admin.hpp"
#include "httpy/executor.hpp"
#include "httpy/metrics.hpp"

#include <chrono>
#include <string>

namespace httpy::cli {

namespace {

void write_python_load(metrics_writer& out, const executor& python) {
    const executor_load load = python.load();
    const label_set none;
    out.gauge("httpy_python_queue_length", "Python calls waiting for a thread.");
    out.value(none, static_cast<std::uint64_t>(load.queued));
    out.gauge("httpy_python_queue_limit", "Python calls that may wait; more are answered 503.");
    out.value(none, static_cast<std::uint64_t>(python.options().queue_limit));
    out.gauge("httpy_python_threads_busy", "Synchronous Python calls running now.");
    out.value(none, static_cast<std::uint64_t>(load.running));
    out.gauge("httpy_python_coroutines_running",
              "Coroutines (ASGI requests, async handlers) running on the event loop now.");
    out.value(none, static_cast<std::uint64_t>(load.coroutines));
    out.counter("httpy_gil_wait_seconds",
                "Time synchronous Python calls waited for the GIL, all threads together.");
    out.value(none, std::chrono::duration<double>(load.gil_wait).count());
}

std::optional<std::string> why_not_ready(const executor& python, const std::atomic<bool>& draining) {
    if (draining.load(std::memory_order_relaxed))
        return "draining: the server is stopping";
    const executor_load load = python.load();
    const std::size_t limit = python.options().queue_limit;
    if (load.queued >= limit)
        return "saturated: " + std::to_string(load.queued) + " Python calls queued, the limit";
    return std::nullopt;
}

} // namespace

server_options admin_bind_options(const std::string& bind) {
    server_options where;
    parse_bind(bind, where, "--admin-bind");
    return admin_server_options(where.host, where.port);
}

void write_serving_metrics(metrics_writer& out, const server& http, const executor& python) {
    http.write_metrics(out);
    write_python_load(out, python);
    write_process_metrics(out);
}

admin_listener::admin_listener(boost::asio::io_context& ioc, const std::string& bind,
                               const server& http, const executor& python,
                               const std::atomic<bool>& draining)
    : options_(admin_bind_options(bind)),
      routes_(admin_router({
          .metrics =
              [&http, &python](metrics_writer& out) { write_serving_metrics(out, http, python); },
          .not_ready = [&python, &draining] { return why_not_ready(python, draining); },
      })),
      server_(ioc, routes_, options_) {}

} // namespace httpy::cli
