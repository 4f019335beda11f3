#pragma once

#include "httpy/executor.hpp"
#include "httpy/python_function.hpp"
#include "httpy/request.hpp"
#include "httpy/response.hpp"
#include "httpy/route_table.hpp"

#include <boost/system/error_code.hpp>

#include <memory>
#include <optional>

namespace httpy {

/// What a Python application is made of and how it runs.
struct app_options {
    /// The request handler, `go_request(method, path, params, query, headers, body)`.
    python_function handler;
    /// The init function, `go_init() -> dict[str, list[str]]`, called once before any request;
    /// it must exist (to use a module's `go_init` only when it has one, ask
    /// `has_python_function` first). nullopt: no init function (every path and method then goes
    /// to the handler).
    std::optional<python_function> init;
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
    /// From a thread that is not an `executor::io_thread` of this app (any thread of your own
    /// io_context), the handler runs on one of the executor's Python threads, so one that
    /// blocks never stalls the caller; the completion runs on the token's associated executor
    /// (the coroutine's own with `use_awaitable`).
    template <class CompletionToken>
    auto async_request(request req, CompletionToken&& token) {
        return python().async_call(std::move(req), std::forward<CompletionToken>(token));
    }

    /// Calls the request handler with `req` and waits for its answer: the one blocking call,
    /// e.g. `call({"GET", "/ping"})`. Thread-safe. Never throws for what the handler does. On an
    /// IO thread of the app's executor (a native route on an `io_pool` thread) the handler runs
    /// right there, with the GIL, instead of being posted to the thread that waits.
    /// Requires: not called from one of the app's Python threads, nor from a completion that
    /// runs on one.
    call_result call(httpy::request req);

    /// The executor the app runs on.
    executor& python() noexcept;

private:
    struct state;
    std::unique_ptr<state> state_;
};

} // namespace httpy
