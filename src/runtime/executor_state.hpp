#pragma once

// The executor's internals, shared by its source files (executor.cpp: threads, queue and
// monitor; event_loop.cpp: coroutines). Not a public header.

#include <pybind11/pytypes.h>

#include "httpy/call_error.hpp"
#include "httpy/executor.hpp"

#include <boost/asio/execution.hpp>
#include <boost/asio/prefer.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace httpy::detail {

using clock = std::chrono::steady_clock;

/// One call, completed exactly once by whoever finishes first: the handler or its timeout.
struct pending_call {
    pending_call(request r, call_handler h)
        : req(std::move(r)), handler(std::move(h)),
          // Counts as outstanding work, so the caller's io_context keeps running until then.
          work(boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                   boost::asio::execution::outstanding_work.tracked)) {}

    request req;
    call_handler handler;
    boost::asio::any_completion_executor work;
    std::atomic<bool> completed{false};
};
using call_ptr = std::shared_ptr<pending_call>;

/// A call that did not produce the handler's response. `detail` (a traceback or a conversion
/// message) is sent to the client only when `executor_options::expose_errors` asked for it.
struct failure {
    failure(call_error e, std::string d = {}) : error(e), detail(std::move(d)) {} // NOLINT: implicit

    call_error error;
    std::string detail;
};

/// What running a handler on a thread gave: a response, a failure, or a coroutine now running
/// on the event loop (which completes the call itself).
struct deferred {};
using outcome = std::variant<response, failure, deferred>;

/// Delivers the outcome on the completion's associated executor, once. `immediate` is for the
/// caller's own thread, where the completion must not run inline.
void complete(pending_call& call, boost::system::error_code ec, response r, bool immediate = false);
/// Completes with the response that answers `f.error` (500, 503 or 504); its body is
/// `f.detail` when there is one.
void fail(pending_call& call, failure f, bool immediate = false);
/// Completes with `result` unless it is `deferred`.
void deliver(pending_call& call, outcome result);
/// True when a handler's result is to be awaited (a coroutine or anything with __await__).
/// Requires: GIL held.
bool is_awaitable(pybind11::handle result);

/// A thread that runs calls: one of the executor's own, or an IO thread running them itself.
struct slot {
    unsigned long python_id = 0;
    bool io = false;
    call_ptr current;              // guarded by mu
    clock::time_point started;     // guarded by mu
    bool interrupted = false;      // guarded by mu; TimeoutError was raised in `current`
    bool reported_blocked = false; // guarded by mu; `current` counts in blocked_io
};

} // namespace httpy::detail

namespace httpy {

using detail::call_ptr;
using detail::clock;
using detail::failure;
using detail::outcome;
using detail::pending_call;
using detail::slot;

struct executor::state {
    explicit state(executor_options o) : options(o) {}

    executor_options options;
    std::mutex mu;
    std::condition_variable work_ready;
    std::condition_variable monitor_wake;
    std::deque<call_ptr> queue;
    std::list<slot> slots; // stable addresses: threads keep pointers to their own
    std::vector<std::thread> threads;
    std::size_t running = 0;
    std::atomic<std::size_t> blocked_io{0};
    std::function<void()> io_thread_blocked;
    bool stopping = false;
    clock::time_point last_busy; // guarded by mu: when the monitor last saw a call
    // When the monitor looks next (max: only when woken; min: it is looking now).
    clock::time_point monitor_wakes_at = clock::time_point::min();
    bool monitor_exit = false;
    std::thread monitor;
    std::set<call_ptr> coroutine_calls; // guarded by mu: running on the event loop
    std::condition_variable coroutines_done;

    // Python objects: touched only with the GIL held.
    pybind11::object handler;
    std::string handler_name = "go_request";
    pybind11::object loop;
    pybind11::object await_any;
    std::thread loop_thread;

    bool thread_may_take(clock::time_point now) const;
    bool all_running_blocked(clock::time_point now) const;
    void start_call(slot& s, call_ptr call);
    call_ptr next_call(slot& s);
    void finish_call(slot& s);
    void run_call(slot& s, const call_ptr& call);
    void run_worker(slot& s);
    void run_inline(const call_ptr& call);
    call_ptr next_inline_call(slot& s);
    bool enqueue(call_ptr call, std::unique_lock<std::mutex>& lock);
    outcome call_python(const call_ptr& call);
    failure handler_failed(const pending_call& call, std::string cause) const;
    void start_coroutine(const call_ptr& call, pybind11::object awaitable);
    outcome coroutine_outcome(const pending_call& call, pybind11::handle future,
                              clock::time_point started);
    pybind11::object as_coroutine(pybind11::object awaitable);
    void abandon_coroutines();
    pybind11::object event_loop();
    void stop_event_loop();
    void run_monitor();
    std::optional<clock::time_point> monitor_pass(std::unique_lock<std::mutex>& lock);
    void interrupt(slot& s, const call_ptr& call);
};

} // namespace httpy
