#pragma once

#include "cli/app_spec.hpp"
#include "httpy/executor.hpp"
#include "httpy/server_options.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace httpy::cli {

/// `httpy serve`: the HTTP server in front of one Python application.
struct serve_options {
    /// The application: TARGET, `--init`, `--interface`, `--root-path`, `--venv`.
    detail::app_choice app;
    /// The server's options, with bodies past 1 MiB spooled to a temporary file (every Python
    /// interface reads a spooled body).
    server_options http = [] {
        server_options o;
        o.spool_body_above = 1024 * 1024;
        return o;
    }();
    executor_options python;
    /// Worker processes under a supervisor; 0: this process serves (no supervisor).
    std::size_t workers = 0;
    /// A worker is replaced after about this many requests; 0: never. Implies a supervisor.
    std::uint64_t max_requests = 0;
    /// A worker is replaced when its resident memory passes this many MiB; 0: never. Implies a
    /// supervisor.
    std::uint64_t max_worker_memory_mib = 0;
    /// Development: replace the workers when a Python source under the app's folder changes
    /// (see `supervisor_options::watch_sources`). Implies a supervisor.
    bool reload = false;
    /// `HOST:PORT` of the admin listener (`/metrics`, `/healthz`, `/readyz`); empty: none.
    std::string admin_bind;
    /// On SIGTERM, how long `/readyz` fails while the server still serves (every response with
    /// `Connection: close`) before the drain starts.
    std::chrono::milliseconds drain_delay{0};
};

/// Serves until SIGINT or SIGTERM, then stops gracefully; SIGHUP reads the TLS certificate
/// again for new connections. With worker processes (see `serve_options::workers`), supervises
/// them (`supervise`): SIGHUP reloads them (the app and the certificate).
/// Returns: 0 after a graceful stop, 2 for a setup error (bad handler, init or address), reported
/// in one log line before the port is bound.
int run_serve(const serve_options& options);

/// Splits `HOST:PORT` (or `[IPv6]:PORT`) into `options`' host and port.
/// Throws: std::invalid_argument naming `option` and the value when it is malformed.
void parse_bind(const std::string& bind, server_options& options,
                std::string_view option = "--bind");

} // namespace httpy::cli
