#pragma once

#include "httpy/executor.hpp"
#include "httpy/request.hpp"
#include "httpy/response.hpp"
#include "httpy/route_table.hpp"

#include <boost/system/error_code.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace httpy {

/// A Python function named by module and function: `worker:go_request`, or a file,
/// `examples/worker.py:go_request`.
struct python_function {
    /// A module name importable from the working directory, or a path to a `.py` file.
    std::string module;
    std::string function;

    /// Parses `MODULE[:FUNCTION]` or `FILE.py[:FUNCTION]`; the function defaults to
    /// `default_function`. Throws: config_error when the module part is empty.
    static python_function parse(std::string_view spec, std::string_view default_function);

    friend bool operator==(const python_function&, const python_function&) = default;
};

/// What a Python application is made of and how it runs.
struct app_options {
    /// The request handler, `go_request(method, path, params, query, headers, body)`.
    python_function handler;
    /// The init function, `go_init() -> dict[str, list[str]]`, called once before any request.
    /// nullopt: no init function (every path and method then goes to the handler).
    std::optional<python_function> init;
    /// When false, a missing init function is not an error: it is skipped (the command line's
    /// default `go_init`). A named init function that is missing is always an error.
    bool init_required = true;
    /// Threads, queue, timeout and body type of the executor.
    executor_options python;
};

/// The result of a blocking call: the response, and why it is not the handler's own.
struct call_result {
    boost::system::error_code error;
    response resp;
};

/// A Python application: imports the handler's module (its folder goes first on `sys.path`),
/// runs the init function once, and calls the handler for requests on its own `executor`.
///
/// Requires: an `interpreter` outlives the app.
class app {
public:
    /// Loads the application and runs its init function.
    /// Throws: config_error naming the file, module or function when one is missing, when the
    /// import or the init function raises (with the traceback), or when the init result is not
    /// a valid route mapping.
    explicit app(app_options options);
    ~app();
    app(const app&) = delete;
    app& operator=(const app&) = delete;

    /// The init function's result as returned (empty without an init function).
    const raw_routes& raw() const noexcept;
    /// The typed routes parsed from it.
    const route_table& routes() const noexcept;
    /// True when an init function ran.
    bool has_init() const noexcept;

    /// Calls the request handler with `req` (see `executor::async_call`). Thread-safe.
    template <class CompletionToken>
    auto async_request(request req, CompletionToken&& token) {
        return python().async_call(std::move(req), std::forward<CompletionToken>(token));
    }

    /// Calls the request handler and waits for its answer (see `call`).
    /// Requires: not called from one of the app's Python threads.
    call_result request(std::string method, std::string path, std::string body, fields params = {},
                        fields query = {}, fields headers = {});

    /// Calls the request handler with `req` and waits for its answer. On an IO thread of the
    /// app's executor (a native route on an `io_pool` thread) the handler runs right there, with
    /// the GIL, instead of being posted to the thread that waits.
    /// Requires: not called from one of the app's Python threads.
    call_result call(httpy::request req);

    /// The executor the app runs on.
    executor& python() noexcept;

private:
    struct state;
    std::unique_ptr<state> state_;
};

} // namespace httpy
