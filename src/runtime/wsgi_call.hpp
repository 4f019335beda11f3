#pragma once

// One request through a WSGI application (PEP 3333). Not a public header.

#include <pybind11/pytypes.h>

#include "httpy/request.hpp"
#include "runtime/executor_state.hpp"
#include "runtime/python_call.hpp"
#include "runtime/wsgi_support.hpp"

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

namespace httpy::detail {

/// What every request of one WSGI application shares. The Python references are the
/// executor's (see executor::state::keep).
struct wsgi_app_info {
    pybind11::handle application;
    std::string name; // e.g. "flask_app:app", in log lines
    std::string root_path;
    pybind11::handle constant_environ;
    pybind11::handle start_response_type;
    pybind11::handle file_wrapper_type;
    pybind11::handle file_region;
    pybind11::handle bytes_io;
    std::size_t max_response_bytes = 0;
    /// Set once a header with `_` in its name was left out of an environ (logged once).
    mutable std::atomic<bool> told_underscore{false};
};

/// Makes the call for `req`; its run builds the environ, calls the application, and answers
/// with the whole body (a list or tuple, or an iterable that ends before its first non-empty
/// chunk), a file region (`wsgi.file_wrapper` over a regular file) or a stream of the rest.
/// `pool` is the executor the call is submitted to (where a stream is kept).
call_ptr make_wsgi_call(std::shared_ptr<const wsgi_app_info> info, executor::state& pool,
                        request req, call_completion done);

} // namespace httpy::detail
