#pragma once

#include "cli/app_spec.hpp"

#include <string>
#include <vector>

namespace httpy::cli {

/// `httpy call`: one request through a handler, without a server.
struct call_options {
    /// The application: TARGET, `--init`, `--interface`, `--root-path`, `--venv`.
    detail::app_choice app;
    std::string method;
    /// Origin-form target, e.g. `/hello/bob?x=1`.
    std::string target;
    /// `Name: value` lines.
    std::vector<std::string> headers;
    std::string body;
    /// Read the body from this file instead (when not empty).
    std::string data_file;
    /// Skip the init function even when the module has one (no routing).
    bool no_init = false;
    /// Hand the body to Python as `bytes`.
    bool body_bytes = false;
    /// Seconds; 0: no timeout.
    double handler_timeout = 30;
};

/// Runs the request and prints the status line, the headers and the body to stdout, like
/// `curl -i`; handler problems go to stderr.
/// Returns: 0 for a response below 500, 1 for 500 and above, 2 for a usage or setup error.
int run_call(const call_options& options);

} // namespace httpy::cli
