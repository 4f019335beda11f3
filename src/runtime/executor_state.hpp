#pragma once

// The executor's internals, shared by its source files (executor.cpp: threads, queue and
// monitor; event_loop.cpp: coroutines). Not a public header.

#include <pybind11/pytypes.h>

#include "httpy/call_error.hpp"
#include "httpy/executor.hpp"
#include "runtime/python_call.hpp"

#include <boost/asio/cancellation_type.hpp>
#include <spdlog/common.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

namespace httpy::detail {

/// A coroutine step (or any callback) that keeps the asyncio event loop from running others
/// for longer than this is logged as blocking it, like asyncio's own slow_callback_duration
/// (100 ms) in debug mode: long enough that ordinary CPU work between awaits never trips it.
inline constexpr std::chrono::milliseconds loop_blocked_after{100};
/// While coroutines run, the monitor pings the event loop this often; an answer that does
/// not come within `loop_blocked_after` means the loop is blocked.
inline constexpr std::chrono::milliseconds loop_ping_interval{50};
/// How long stopping waits for the event loop's thread to come back; a loop blocked longer
/// (a handler in time.sleep or a C call) is left running rather than joined for ever.
inline constexpr std::chrono::milliseconds loop_stop_timeout{1'000};

/// A log line rendered while the GIL was held and written once it is released, so that a slow
/// log sink (a full stderr pipe) never stalls Python.
struct log_line {
    spdlog::level::level_enum level = spdlog::level::off;
    std::string text;

    /// Writes the line, if there is one. Requires: GIL not held.
    void write() const;
};

/// A call that did not produce the handler's response. `detail` (a traceback or a conversion
/// message) is sent to the client only when `executor_options::expose_errors` asked for it.
struct failure {
    failure(call_error e, std::string d = {}) : error(e), detail(std::move(d)) {} // NOLINT: implicit
    failure(boost::system::error_code e) : error(e) {}                          // NOLINT: implicit

    boost::system::error_code error;
    std::string detail;
    log_line log; // why, for the log
};

/// What running a handler on a thread gave: a response, a failure, or a coroutine now running
/// on the event loop (which completes the call itself).
struct deferred {};
using outcome = std::variant<response, failure, deferred>;

/// Delivers the outcome on the completion's associated executor, once. `immediate` is for the
/// caller's own thread, where the completion must not run inline.
void complete(python_call& call, boost::system::error_code ec, response r, bool immediate = false);
/// Completes with the response that answers `f.error` (500, 503 or 504; 503 for a cancelled
/// call); its body is `f.detail` when there is one. Does not write `f.log`.
void fail(python_call& call, failure f, bool immediate = false);
/// Writes the failure's log line, then completes with `result` unless it is `deferred`;
/// `immediate` as for `complete`.
/// Requires: GIL not held.
void deliver(python_call& call, outcome result, bool immediate = false);

/// A thread that runs calls: one of the executor's own, or an IO thread running them itself.
struct slot {
    unsigned long python_id = 0;
    bool io = false;
    call_ptr current;              // guarded by mu
    clock::time_point started;     // guarded by mu
    bool interrupted = false;      // guarded by mu; TimeoutError was (or is being) raised in `current`
    bool reported_blocked = false; // guarded by mu; `current` counts in blocked_io
};

/// A coroutine for the loop's thread to start (handed over under the mutex: moved, never copied).
struct coroutine_start {
    std::uint64_t id = 0;
    pybind11::object awaitable;
    pybind11::object client_left; // see awaitable_result; None when it has none
};

/// A call whose coroutine runs on the event loop.
struct coroutine_call {
    call_ptr call;
    bool cancel_sent = false; // answered by the monitor (deadline or cancellation), task cancelled
};

/// A response body Python still produces (see response_stream.hpp). Touched only with the GIL.
struct open_stream {
    pybind11::object iterable;       // what close() is called on, once
    pybind11::object iterator;       // what the chunks come from
    pybind11::object start_response; // WSGI: holds what write() took; None for the go contract
    std::shared_ptr<std::atomic<bool>> closed; // set once close() has run, read without the GIL
    std::string description;         // names the stream in log lines
    bool busy = false;               // a chunk call is inside the iterator
    bool close_requested = false;    // the server dropped the stream while it was busy
};

/// A call the monitor answers instead of its handler, and why.
struct overdue_call {
    slot* running_in = nullptr; // null for a coroutine
    call_ptr call;
    boost::system::error_code why; // timed_out, or operation_aborted (cancelled by the caller)
};

} // namespace httpy::detail

namespace httpy {

using detail::call_ptr;
using detail::clock;
using detail::failure;
using detail::outcome;
using detail::python_call;
using detail::slot;

/// The pool: what `executor` is a handle of. What the app uses is the first block of members.
struct executor::state : std::enable_shared_from_this<executor::state> {
    explicit state(executor_options o) : options(o) {}
    ~state();
    state(const state&) = delete;
    state& operator=(const state&) = delete;

    /// Makes a pool and starts its threads (the event loop comes with `start_event_loop`).
    static std::shared_ptr<state> start(executor_options options);
    /// Runs `call`: from an IO thread of this pool on the IO threads, else on a Python thread.
    /// Completes it on its associated executor, never inside this function. Thread-safe.
    void submit(call_ptr call);
    /// Runs `call` before returning when the calling thread is an IO thread of this pool (with
    /// the GIL, there: a blocking wait on it would otherwise wait for a call posted to itself);
    /// elsewhere submits it as `submit` does. Thread-safe.
    void call_blocking(call_ptr call);
    /// Makes the asyncio event loop and its thread, once, so that no first coroutines race for
    /// it. Requires: GIL held.
    void start_event_loop();
    /// Keeps `object` (what calls use, such as the function they call) until the pool releases
    /// its own Python objects: at shutdown with the GIL, or on the event loop's thread when a
    /// loop left running comes back. Requires: GIL held; before calls are submitted.
    void keep(pybind11::object object);
    /// What `~executor` does (see there). Never throws.
    void shut_down() noexcept;

    executor_options options;
    std::mutex mu;
    std::condition_variable work_ready;
    std::condition_variable monitor_wake;
    std::deque<call_ptr> queue;
    std::list<slot> slots; // stable addresses: threads keep pointers to their own
    std::vector<std::thread> threads;
    std::size_t running = 0;
    std::atomic<std::size_t> blocked_io{0};
    std::atomic<std::int64_t> gil_wait_ns{0}; // executor_load::gil_wait
    std::function<void()> io_thread_blocked;
    bool stopping = false;
    clock::time_point last_busy; // guarded by mu: when the monitor last saw a call
    // When the monitor looks next (max: only when woken; min: it is looking now).
    clock::time_point monitor_wakes_at = clock::time_point::min();
    bool monitor_exit = false;
    std::thread monitor;
    std::vector<std::pair<slot*, call_ptr>> interrupts; // answered, TimeoutError still to raise
    std::condition_variable interrupt_ready;
    bool interrupter_exit = false;
    std::thread interrupter;

    // The event loop's side, guarded by mu (see event_loop.cpp).
    std::map<std::uint64_t, detail::coroutine_call> coroutines; // running on the event loop
    std::uint64_t next_coroutine_id = 1;
    std::vector<std::uint64_t> to_cancel; // tasks the loop thread is to cancel when woken
    std::vector<std::uint64_t> to_tell_left; // coroutines whose client has closed, to tell so
    std::condition_variable coroutines_done;
    int wake_fd = -1;                    // eventfd the loop thread reads; written without the GIL
    std::atomic<std::uint64_t> stepping{0}; // the coroutine running a step now (0: none)
    bool ping_outstanding = false;
    clock::time_point ping_sent;
    clock::time_point last_ack;
    std::optional<std::string> stalled_by;     // set while a reported stall lasts: whose step
    std::optional<clock::duration> stall_lasted; // set by the answer that ends a reported stall
    bool loop_stop_requested = false;
    bool loop_finished = false;  // the loop thread has returned from the loop
    bool loop_abandoned = false; // it did not return in time and was left running
    std::condition_variable loop_done;
    std::thread loop_thread;

    // Python objects: touched only with the GIL held.
    std::vector<pybind11::object> kept;
    std::unordered_map<std::uint64_t, detail::open_stream> streams; // responses being streamed
    std::uint64_t next_stream_id = 1;
    pybind11::object runner; // the event loop's Python side
    pybind11::object runner_run_inline; // runner.run_inline, looked up once: it runs per coroutine
    // Coroutines for the loop to start; guarded by mu too.
    std::vector<detail::coroutine_start> to_start;

    bool thread_may_take(clock::time_point now) const;
    bool all_running_blocked(clock::time_point now) const;
    void connect_cancellation(const call_ptr& call);
    void cancel(const call_ptr& call, boost::asio::cancellation_type type);
    void submit_queued(call_ptr call);
    void start_call(slot& s, call_ptr call);
    call_ptr next_call(slot& s);
    void finish_call(slot& s);
    void run_call(slot& s, const call_ptr& call);
    void run_worker(slot& s);
    void run_inline(const call_ptr& call);
    void run_in_place(const call_ptr& call);
    call_ptr next_inline_call(slot& s);
    bool enqueue(call_ptr call, std::unique_lock<std::mutex>& lock);
    outcome call_python(const call_ptr& call);
    failure handler_failed(const python_call& call, std::string cause) const;

    // event_loop.cpp
    void run_event_loop();
    void start_coroutine(const call_ptr& call, detail::awaitable_result awaitable);
    bool on_io_thread() const noexcept; // executor.cpp: the calling thread is an IO thread of ours
    void coroutine_finished(std::uint64_t id, pybind11::handle task);
    outcome coroutine_outcome(python_call& call, pybind11::handle task, bool answered);
    pybind11::tuple loop_woken();
    void wake_loop() const noexcept;
    void watch_coroutines(clock::time_point now, std::vector<detail::overdue_call>& overdue,
                          std::optional<clock::time_point>& wake_at, bool& ping,
                          std::vector<std::string>& notes);
    std::string loop_culprit() const;
    void abandon_coroutines();
    void forget_coroutines();
    bool stop_event_loop();
    void drop_python_objects() noexcept;

    void run_monitor();
    std::optional<clock::time_point> monitor_pass(std::unique_lock<std::mutex>& lock);
    void answer_overdue(const detail::overdue_call& o);
    void run_interrupter();
    void interrupt(slot& s, const call_ptr& call);
};

} // namespace httpy
