#include <pybind11/eval.h>
#include <pybind11/pybind11.h>

#include "runtime/executor_state.hpp"

#include "runtime/python_error.hpp"
#include "marshal/response_from_python.hpp"

#include <spdlog/spdlog.h>

namespace py = pybind11;

// The executor's coroutine support: `async def` handlers run on one asyncio event loop that the
// executor owns, on a thread of its own.

namespace httpy {

using detail::deliver;
using detail::fail;

// Requires: GIL held.
void executor::state::start_coroutine(const call_ptr& call, py::object awaitable) {
    // Before the coroutine can start: its timeout must count from no earlier than this.
    const auto started = clock::now();
    auto asyncio = py::module_::import("asyncio");
    event_loop();
    awaitable = options.handler_timeout.count() > 0
                    ? asyncio.attr("wait_for")(
                          awaitable, std::chrono::duration<double>(options.handler_timeout).count())
                    : as_coroutine(awaitable); // run_coroutine_threadsafe takes coroutines only
    // Registered first: the coroutine may finish, and its callback run, before
    // add_done_callback returns (Python can hand the GIL to the loop thread in between).
    {
        std::lock_guard lock(mu);
        coroutine_calls.insert(call);
    }
    try {
        auto future = asyncio.attr("run_coroutine_threadsafe")(awaitable, loop);
        future.attr("add_done_callback")(
            py::cpp_function([this, call, started](py::handle f) {
                outcome result = coroutine_outcome(*call, f, started);
                py::gil_scoped_release released; // completions never run with the GIL held
                deliver(*call, std::move(result));
                std::lock_guard lock(mu);
                coroutine_calls.erase(call);
                coroutines_done.notify_all();
            }));
    } catch (...) {
        std::lock_guard lock(mu);
        coroutine_calls.erase(call);
        throw;
    }
}

// Requires: GIL held (it runs as the future's done-callback on the event loop's thread).
outcome executor::state::coroutine_outcome(const pending_call& call, py::handle future,
                                           clock::time_point started) {
    try {
        return marshal::response_from_python(future.attr("result")(), handler_name,
                                            options.max_response_bytes);
    } catch (py::error_already_set& e) {
        // A TimeoutError raised by the handler's own code before the deadline is its failure.
        const bool ours = e.matches(PyExc_TimeoutError) && options.handler_timeout.count() > 0 &&
                          clock::now() - started >= options.handler_timeout;
        if (ours) {
            spdlog::warn("{} {} {}: coroutine cancelled after its timeout", handler_name,
                         call.req.method, call.req.path);
            return call_error::timed_out;
        }
        return handler_failed(call, "coroutine raised:\n" + detail::format_traceback(e));
    } catch (const std::exception& e) {
        return handler_failed(call, e.what());
    }
}

// Requires: GIL held.
py::object executor::state::as_coroutine(py::object awaitable) {
    if (!await_any) {
        py::dict scope;
        py::exec("async def await_any(awaitable):\n    return await awaitable\n", scope);
        await_any = scope["await_any"];
    }
    return await_any(awaitable);
}

// Requires: GIL held.
py::object executor::state::event_loop() {
    if (loop)
        return loop;
    loop = py::module_::import("asyncio").attr("new_event_loop")();
    loop_thread = std::thread([this] {
        py::gil_scoped_acquire gil;
        try {
            loop.attr("run_forever")();
        } catch (py::error_already_set& e) {
            spdlog::error("asyncio event loop stopped: {}", detail::format_traceback(e));
        }
    });
    return loop;
}

// Requires: GIL not held.
void executor::state::stop_event_loop() {
    {
        py::gil_scoped_acquire gil;
        if (!loop)
            return;
        loop.attr("call_soon_threadsafe")(loop.attr("stop"));
    }
    loop_thread.join();
    py::gil_scoped_acquire gil;
    loop.attr("close")();
    loop = py::object();
}

// Gives coroutines still running the drain time, then answers their calls as stopped.
void executor::state::abandon_coroutines() {
    std::unique_lock lock(mu);
    coroutines_done.wait_for(lock, std::chrono::seconds(10), [&] { return coroutine_calls.empty(); });
    auto left = std::move(coroutine_calls);
    coroutine_calls.clear();
    lock.unlock();
    for (const auto& call : left) {
        spdlog::warn("{} {} {}: coroutine still running at shutdown; answering 503",
                     handler_name, call->req.method, call->req.path);
        fail(*call, call_error::stopped);
    }
}

} // namespace httpy
