#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

namespace httpy {

/// Which asyncio event loop runs coroutines (`async def` handlers, ASGI applications).
enum class loop_kind {
    /// uvloop when it can be imported (as uvicorn picks it: docs/asgi.md, "Thread model"),
    /// asyncio's own loop otherwise.
    automatic,
    /// asyncio's own loop. A coroutine submitted from an IO thread starts there, while the
    /// loop's thread waits for events; it moves to the loop's thread at its first real wait.
    asyncio,
    /// uvloop: every coroutine runs on the loop's thread. Loading the app fails when uvloop
    /// cannot be imported.
    uvloop,
};

/// How an app runs Python: its executor's threads, queue and timeout, and how its calls convert
/// the request and the response.
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
    /// The event loop coroutines run on.
    loop_kind event_loop = loop_kind::automatic;
    /// Hand the request body to the handler as `bytes` instead of `str`.
    bool body_as_bytes = false;
    /// Largest response body a handler may return; a larger one is refused before it is
    /// copied and the call fails (500), so a runaway handler cannot exhaust memory twice.
    std::size_t max_response_bytes = 64 * 1024 * 1024;
    /// Development only: a failed call's 500 carries the traceback or the conversion message
    /// (otherwise they go to the log only, as they can reveal code, paths and data).
    bool expose_errors = false;
};

/// A snapshot of an executor's load: what `/metrics` and `/readyz` read.
struct executor_load {
    /// Calls waiting for a Python thread (`executor_options::queue_limit` at most).
    std::size_t queued = 0;
    /// Synchronous calls running on a thread now (IO threads running Python included).
    std::size_t running = 0;
    /// Coroutines (ASGI requests, `async def` handlers) running on the event loop now.
    std::size_t coroutines = 0;
    /// Time synchronous calls have waited for the GIL since the start, all threads together.
    std::chrono::nanoseconds gil_wait{0};
};

/// The scoped GIL executor: the pool of long-lived Python threads an `app` runs its calls on,
/// with their queue, monitor, timeouts and asyncio event loop. An `app` makes its own and gives
/// it out as `app::python()`: to attach IO threads (`io_thread`, as `io_pool` does), to stop
/// it, to read its options. What a call runs (the Python handler, the conversions) is the
/// app's; calls go through `app::async_request` and `app::call`.
///
/// Each thread attaches to the interpreter once and waits for work without the GIL. While calls
/// are queued, one thread runs them back to back; another joins only when the running call
/// appears blocked (see `executor_options::blocked_after`), so blocking handlers overlap while
/// quick ones never hand the GIL over. `async def` handlers run on an asyncio event loop owned
/// by the executor, made when the app is loaded. A monitor thread owns every deadline: a call
/// gets its 504 at its timeout whether its handler spins, sleeps, blocks the event loop or
/// ignores cancellation (it is then interrupted or its task cancelled), and a coroutine that
/// blocks the loop past 100 ms is logged with its request. Failures, timeouts, overload and
/// cancellation all complete the call with a response (500, 504, 503) and a logged cause,
/// logged after the GIL is released; nothing a handler does stops the process.
///
/// Requires: an `interpreter` outlives the executor.
class executor {
public:
    /// The pool itself; defined inside httpy only (no code outside it can make one).
    struct state;

    /// Takes over a pool started inside httpy: how an `app` makes its executor.
    explicit executor(std::shared_ptr<state> pool) noexcept;
    /// Takes no more calls, lets queued and running ones finish (coroutines until their timeout,
    /// at most 10 s; then they are answered as stopped and cancelled), stops the threads and the
    /// event loop, and releases every Python object it holds. An event loop that a handler keeps
    /// blocked past a bounded wait is left running instead of joined (Python is then not
    /// finalised, see `interpreter`). Never throws.
    ~executor();
    executor(const executor&) = delete;
    executor& operator=(const executor&) = delete;

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

    /// Its load now. Thread-safe; takes the pool's lock briefly, never the GIL.
    executor_load load() const;

private:
    // Shared: the event loop's thread holds it too, so a loop left running at shutdown never
    // points at freed state.
    std::shared_ptr<state> state_;
};

} // namespace httpy
