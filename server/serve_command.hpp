#pragma once

#include "httpy/executor.hpp"
#include "server/options.hpp"

#include <string>

namespace httpy::cli {

/// `httpy serve`: the HTTP server in front of one Python application.
struct serve_options {
    /// `FILE.py[:FUNCTION]` or `MODULE[:FUNCTION]`.
    std::string handler;
    /// `MODULE:FUNCTION`; empty: the handler module's `go_init` when it has one.
    std::string init;
    server_options http;
    executor_options python;
};

/// Serves until SIGINT or SIGTERM, then stops gracefully.
/// Returns: 0 after a graceful stop, 2 for a setup error (bad handler, init or address), reported
/// in one log line before the port is bound.
int run_serve(const serve_options& options);

/// Splits `HOST:PORT` (or `[IPv6]:PORT`) into `options`.
/// Throws: std::invalid_argument naming the value when it is malformed.
void parse_bind(const std::string& bind, server_options& options);

} // namespace httpy::cli
