#pragma once

#include "httpy/router.hpp"
#include "httpy/server.hpp"

#include <atomic>
#include <string>

namespace boost::asio {
class io_context;
}

namespace httpy {
class executor;
class metrics_writer;
}

namespace httpy::cli {

/// The options of the admin listener's server on `bind` (`--admin-bind`, see
/// `admin_server_options`). Throws: std::invalid_argument for a malformed `bind`.
server_options admin_bind_options(const std::string& bind);

/// Writes what one serving process reports on `/metrics`: `http`'s request metrics, the Python
/// load of `python`, the process metrics.
void write_serving_metrics(metrics_writer& out, const server& http, const executor& python);

/// The admin listener of a process that serves (`--admin-bind`): `/metrics` with `http`'s
/// request metrics, the Python load of its executor and the process metrics; `/healthz`; `/readyz`,
/// ready while `draining` is false and the Python queue is not full. Answered on `ioc`, the IO
/// loop the server runs on, so a wedged loop fails `/healthz` too.
///
/// Requires: `http`, `python` and `draining` outlive it.
class admin_listener {
public:
    /// Throws: std::invalid_argument for a malformed `bind` (as `parse_bind`).
    admin_listener(boost::asio::io_context& ioc, const std::string& bind, const server& http,
                   const executor& python, const std::atomic<bool>& draining);

    /// Binds and listens. Throws: boost::system::system_error when it cannot.
    void start() { server_.start(); }

    /// The bound port (after `start`).
    unsigned short port() const noexcept { return server_.port(); }

    /// The address it listens on, as given.
    const std::string& host() const noexcept { return options_.host; }

private:
    server_options options_;
    router routes_;
    server server_;
};

} // namespace httpy::cli
