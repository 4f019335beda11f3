#pragma once

#include "httpy/async_handler.hpp"
#include "httpy/call_result.hpp"
#include "httpy/executor.hpp"
#include "httpy/python_function.hpp"
#include "httpy/request.hpp"
#include "httpy/response.hpp"
#include "httpy/route_table.hpp"

#include <boost/asio/async_result.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace httpy {

/// The Python interface an application speaks (docs/python-contract.md).
enum class app_interface {
    /// Told apart by the handler's signature, else by its framework's type (see `app`).
    automatic,
    /// `go_request(method, path, params, query, headers, body)`.
    go,
    /// PEP 3333: `application(environ, start_response)`.
    wsgi,
    /// ASGI 3: `async app(scope, receive, send)` (an ASGI 2 double-callable is wrapped).
    asgi,
};

/// Whether an ASGI application's lifespan protocol runs (`lifespan.startup` when it is loaded,
/// `lifespan.shutdown` when it is destroyed).
enum class lifespan_mode {
    /// Runs; an application that raises on the lifespan scope, or returns without answering
    /// it, is served without it (logged once).
    automatic,
    /// Runs; an application without lifespan support fails to load.
    on,
    /// Never runs.
    off,
};

/// The interface's name as the command line spells it: "auto", "go", "wsgi", "asgi".
const char* to_string(app_interface i) noexcept;

/// What a Python application is made of and how it runs.
struct app_options {
    /// The request handler: `go_request(...)`, a WSGI application or an ASGI one. An empty
    /// function name means the module's `go_request`, else its `application`, else its `app`.
    python_function handler;
    /// The go contract's init function, `go_init() -> dict[str, list[str]]`, called once
    /// before any request; it must exist (to use a module's `go_init` only when it has one, ask
    /// `has_python_function` first). nullopt: no init function (every path and method then goes
    /// to the handler). Not used by the other interfaces.
    std::optional<python_function> init;
    /// Which interface the handler speaks.
    app_interface interface = app_interface::automatic;
    /// The route prefix the app is mounted on, or `--root-path`. WSGI: a request path that
    /// starts with it (followed by `/` or nothing) has it moved from `PATH_INFO` to
    /// `SCRIPT_NAME`. ASGI: the scope's `root_path` (its `path` keeps the prefix, as the ASGI
    /// spec says). Empty: none.
    std::string root_path;
    /// ASGI: whether the lifespan protocol runs.
    lifespan_mode lifespan = lifespan_mode::automatic;
    /// ASGI: how long `lifespan.startup` (and `lifespan.shutdown`) may take; loading fails
    /// when the startup is not answered by then.
    std::chrono::milliseconds startup_timeout{30'000};
    /// WSGI: `wsgi.multiprocess` (worker processes serve the same application).
    bool multiprocess = false;
    /// Threads, queue, timeout and body type of the executor.
    executor_options python;
};

/// A Python application: imports the handler's module (its folder goes first on `sys.path`),
/// tells its interface (go contract, WSGI, ASGI), runs the init function (or an ASGI
/// application's lifespan startup) once, and calls the handler
/// for requests on its own `executor`. With `app_interface::automatic` the handler's signature
/// decides (six positional parameters: go; `(environ, start_response)`: WSGI; an `async`
/// `(scope, receive, send)`: ASGI), else its framework's type (a Flask app, Django's
/// `WSGIHandler`); when neither tells, loading fails asking for the interface. The
/// app owns the Python side of a call (the handler, the request and response conversions); the
/// executor decides where and when it runs.
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
    /// The handler as loaded, its function name filled in (e.g. `flask_app.py:app`).
    const python_function& handler_function() const noexcept;
    /// The interface the handler speaks, never `automatic`.
    app_interface interface() const noexcept;

    /// Calls the request handler with `req`; completes with `call_signature`, `void(call_result)`:
    /// the response for every outcome, with the reason it is not the handler's own in
    /// `call_result::error` (`call_error`, or `operation_aborted` for a cancelled call), never
    /// an exception. So `co_await app.async_request(req, use_awaitable)` yields a `call_result`,
    /// `use_future` gives a `std::future<call_result>`, a callback gets the `call_result`.
    /// The completion runs on its associated executor (the coroutine's own with
    /// `use_awaitable`), never inside this function; until then the call counts as work there.
    ///
    /// From a thread that is not an `executor::io_thread` of this app (any thread of your own
    /// io_context), the handler runs on one of the executor's Python threads, so one that
    /// blocks never stalls the caller; from an IO thread of this app it runs on the IO threads.
    ///
    /// Per-operation cancellation: when the completion has a cancellation slot bound
    /// (`bind_cancellation_slot`, or an awaitable operator such as `||`), emitting terminal or
    /// partial cancellation before a thread has taken the call means it never runs, and of a
    /// running call interrupts it like its timeout (TimeoutError raised in a synchronous
    /// handler, an `async def` one's task cancelled). Either way it completes at once with
    /// `boost::asio::error::operation_aborted` and a 503 response. Total cancellation alone
    /// cancels nothing, queued or running: it says the client has closed the connection, or
    /// only its sending side (it may still read the answer), so an ASGI application's
    /// `receive()` returns `http.disconnect` and the call completes with the handler's own
    /// answer. The server emits it when a client closes while its call runs.
    /// Emit on the completion's executor, as Asio requires.
    /// Thread-safe.
    template <class CompletionToken>
    auto async_request(request req, CompletionToken&& token) {
        // The request travels inside the initiation, which every token stores by value (a
        // deferred token such as use_awaitable runs it after this function has returned).
        return boost::asio::async_initiate<CompletionToken, call_signature>(
            [this, r = std::move(req)](auto done) mutable {
                submit(std::move(r), call_completion(std::move(done)));
            },
            token);
    }

    /// The route handler that sends requests to this app, for a router:
    /// `routes.add(app.routes(), app.handler())`, `routes.add(method::get, "/python",
    /// app.handler())`, `routes.fallback(app.handler())`. It calls `async_request`.
    /// Requires: the app outlives every copy (the router holding it).
    async_handler handler();

    /// Calls the request handler with `req` and waits for its answer: the one blocking call,
    /// e.g. `call({"GET", "/ping"})`. Thread-safe. Never throws for what the handler does. On an
    /// IO thread of the app's executor (a native route on an `io_pool` thread) the handler runs
    /// right there, with the GIL, instead of being posted to the thread that waits.
    /// Requires: not called from one of the app's Python threads, nor from a completion that
    /// runs on one.
    call_result call(httpy::request req);

    /// The executor the app runs on: for `io_pool` (`io_pool(ioc, n, &app.python())`), to stop
    /// it, or to read its options.
    executor& python() noexcept;

private:
    void submit(request req, call_completion done);

    struct state;
    std::unique_ptr<state> state_;
};

} // namespace httpy
