#pragma once

#include "httpy/request.hpp"
#include "httpy/response.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace pybind11 {
class object;
}

namespace httpy {

class executor;

/// How an executor runs Python.
struct executor_options {
    /// Long-lived Python threads; at most this many synchronous handlers run (or block) at once.
    std::size_t threads = 4;
    /// Calls that may wait for a thread; one more completes at once as `call_error::overloaded`.
    std::size_t queue_limit = 1024;
    /// A handler still running after this long gets TimeoutError raised inside it and its call
    /// completes as `call_error::timed_out`. Zero: no timeout.
    std::chrono::milliseconds handler_timeout{30'000};
    /// A running call that has held its thread this long is presumed blocked (sleep, I/O), and
    /// an idle thread starts taking queued calls beside it. Below this, one thread runs queued
    /// calls back to back, so the GIL does not change hands per call.
    std::chrono::microseconds blocked_after{1'000};
    /// Hand the request body to Python as `bytes` instead of `str`.
    bool body_as_bytes = false;
    /// Largest response body a handler may return; a larger one is refused before it is
    /// copied and the call fails (500), so a runaway handler cannot exhaust memory twice.
    std::size_t max_response_bytes = 64 * 1024 * 1024;
    /// Development only: a failed call's 500 carries the traceback or the conversion message
    /// (otherwise they go to the log only, as they can reveal code, paths and data).
    bool expose_errors = false;
};

/// The signature a call completes with: the response to send, and why it is not the handler's
/// own (empty on success; see `call_error`).
using call_signature = void(boost::system::error_code, response);
using call_handler = boost::asio::any_completion_handler<call_signature>;

namespace detail {
void set_request_handler(executor& ex, pybind11::object handler, std::string name);
/// Calls the handler for `req` and completes `handler` before returning when the calling thread
/// is an IO thread of `ex` (running it there, with the GIL: a blocking wait on that thread would
/// otherwise wait for a call posted to itself); elsewhere submits it as `async_call` does.
void call_blocking(executor& ex, request req, call_handler handler);
} // namespace detail

/// The scoped GIL executor: runs a Python request handler on a fixed pool of long-lived Python
/// threads.
///
/// Each thread attaches to the interpreter once and waits for work without the GIL. While calls
/// are queued, one thread runs them back to back; another joins only when the running call
/// appears blocked (see `executor_options::blocked_after`), so blocking handlers overlap while
/// quick ones never hand the GIL over. `async def` handlers run on an asyncio event loop owned
/// by the executor, made when the handler is set. A monitor thread owns every deadline: a call
/// gets its 504 at its timeout whether its handler spins, sleeps, blocks the event loop or
/// ignores cancellation (it is then interrupted or its task cancelled), and a coroutine that
/// blocks the loop past 100 ms is logged with its request. Python exceptions, wrong results,
/// timeouts and overload all complete the call with a response (500, 504, 503) and a logged
/// cause, logged after the GIL is released; nothing a handler does stops the process.
///
/// Requires: an `interpreter` outlives the executor.
class executor {
public:
    /// Starts the threads. The handler is set by the Python application (see `app`).
    explicit executor(executor_options options = {});
    /// Takes no more calls, lets queued and running ones finish (coroutines until their timeout,
    /// at most 10 s; then they are answered as stopped and cancelled), stops the threads and the
    /// event loop, and releases every Python object it holds. An event loop that a handler keeps
    /// blocked past a bounded wait is left running instead of joined (Python is then not
    /// finalised, see `interpreter`). Never throws.
    ~executor();
    executor(const executor&) = delete;
    executor& operator=(const executor&) = delete;

    /// Runs `setup` with the GIL held on the calling thread and returns when it has. For setup
    /// work (import, init), never for requests. Exceptions from `setup` propagate.
    /// Requires: not called from a Python thread of this executor.
    void run(const std::function<void()>& setup);

    /// Calls the handler with `req`. The completion gets the response (or a 500/503/504 response
    /// and a `call_error`) on its associated executor; it never runs inside this function.
    ///
    /// Per-operation cancellation: when the completion has a cancellation slot bound
    /// (`bind_cancellation_slot`, or an awaitable operator such as `||`), emitting terminal,
    /// partial or total cancellation before a thread has taken the call means it never runs;
    /// terminal or partial cancellation of a running call interrupts it like its timeout
    /// (TimeoutError raised in a synchronous handler, an `async def` one's task cancelled). Either
    /// way it completes at once with `boost::asio::error::operation_aborted` and a 503 response.
    /// Emit on the completion's executor, as Asio requires.
    /// Thread-safe.
    template <class CompletionToken>
    auto async_call(request req, CompletionToken&& token) {
        // The request travels inside the initiation, which every token stores by value (a
        // deferred token such as use_awaitable runs it after this function has returned).
        return boost::asio::async_initiate<CompletionToken, call_signature>(
            [this, r = std::move(req)](auto handler) mutable {
                submit(std::move(r), call_handler(std::move(handler)));
            },
            token);
    }

    /// Takes no more calls: later ones, from any thread (IO threads included), complete as
    /// `call_error::stopped`. Calls already queued still run.
    void stop() noexcept;

    /// Makes the calling thread an IO thread of the executor for the scope's life: calls it
    /// submits run on the IO threads themselves (posted to `io`, outside any strand), with no
    /// hand-off to another thread, as long as fewer than `executor_options::threads` calls run.
    /// A call that blocks such a thread past `blocked_after` is reported to the handler set by
    /// `on_io_thread_blocked`, so the IO pool can add a thread while this one waits.
    /// The thread gets its Python thread state once, here, without taking the GIL (so a thread
    /// can start serving while a handler holds the GIL); destruction takes the GIL to drop it.
    /// Requires: constructed and destroyed on the same thread, which runs `io`'s context; no
    /// GIL held; destroyed before the executor.
    class io_thread {
    public:
        io_thread(executor& ex, boost::asio::any_io_executor io);
        ~io_thread();
        io_thread(const io_thread&) = delete;
        io_thread& operator=(const io_thread&) = delete;

        struct state;

    private:
        std::unique_ptr<state> state_;
    };

    /// Sets what the monitor calls (on its own thread, no lock or GIL held) when a call has
    /// blocked an IO thread past `blocked_after`. The monitor calls a copy taken under its lock,
    /// so a handler may still run once just after it was replaced: it must not point at state
    /// that can go away meanwhile (hold it by `weak_ptr`). Requires: set before IO threads
    /// attach.
    void on_io_thread_blocked(std::function<void()> handler);

    /// IO threads whose current call has run past `blocked_after`.
    std::size_t blocked_io_threads() const noexcept;

    /// The options the executor runs with.
    const executor_options& options() const noexcept;

private:
    struct state;
    friend void detail::set_request_handler(executor&, pybind11::object, std::string);
    friend void detail::call_blocking(executor&, request, call_handler);
    void submit(request req, call_handler handler);

    // Shared: the event loop's thread holds it too, so a loop left running at shutdown never
    // points at freed state.
    std::shared_ptr<state> state_;
};

} // namespace httpy
