#pragma once

// One call into Python as the executor runs it: the interface between the executor (where,
// when, under which deadline, completed how) and whoever makes the call (the app: which Python
// function, which conversions). Not a public header.

#include <pybind11/pytypes.h>

#include "httpy/async_handler.hpp"
#include "httpy/response.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/prefer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <variant>

namespace httpy::detail {

using clock = std::chrono::steady_clock;

/// Where a call is. Guarded by the executor's mutex.
enum class call_phase : unsigned char {
    waiting,  // queued, or posted to an IO thread: cancelling it means it never runs
    running,  // a thread is in the handler
    awaiting, // its coroutine runs on the event loop
    finished, // answered, or its handler has returned
};

/// An awaitable (a coroutine, or anything with `__await__`) that a call's Python function
/// returned: the executor awaits it on its event loop and hands what it gives to `resume`.
struct awaitable_result {
    pybind11::object awaitable;
    /// Called on the event loop when the call's client closes the connection while the
    /// coroutine runs (see `executor::state::cancel`); None: it is not told.
    pybind11::object client_left = pybind11::none();
};

/// What running a call gave: its response, or an awaitable to await first.
using run_result = std::variant<response, awaitable_result>;

/// One call into Python, completed exactly once by whoever finishes first: its Python
/// function, its timeout or its caller's cancellation. A subclass says what it runs; the
/// executor runs it on the thread it chooses, with the GIL held, owns its deadline and
/// completes it. The public members are the executor's bookkeeping.
class python_call {
public:
    explicit python_call(call_completion done)
        : handler(std::move(done)),
          // Counts as outstanding work, so the caller's io_context keeps running until then.
          work(boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                   boost::asio::execution::outstanding_work.tracked)) {}
    virtual ~python_call() = default;
    python_call(const python_call&) = delete;
    python_call& operator=(const python_call&) = delete;

    /// Runs the call: its response, or an awaitable for the executor to await.
    /// Requires: GIL held.
    /// Throws: anything: pybind11::error_already_set when Python raised, a std::exception when
    /// the result is wrong; the executor answers 500 and logs the cause (with the traceback).
    virtual run_result run() = 0;

    /// The response for `result`, what the awaitable that `run` returned gave.
    /// Requires: GIL held (on the event loop's thread). Throws: as `run`.
    virtual response resume(pybind11::handle result) = 0;

    /// Names the call in log lines, e.g. "go_request GET /path". Requires: nothing (no GIL).
    virtual std::string describe() const = 0;

    call_completion handler;
    boost::asio::any_completion_executor work;
    std::atomic<bool> completed{false};
    bool cancellable = false;               // a cancellation handler is in the handler's slot
    call_phase phase = call_phase::waiting; // guarded by mu
    clock::time_point started;              // guarded by mu: when a thread took it
    bool cancel_requested = false;          // guarded by mu: the caller cancelled it while it ran
    bool client_left = false;               // guarded by mu: the caller said its client closed
    std::uint64_t coroutine = 0;            // guarded by mu: its id on the event loop, 0: none
};
using call_ptr = std::shared_ptr<python_call>;

} // namespace httpy::detail
