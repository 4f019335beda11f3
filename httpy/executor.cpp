#include <pybind11/pybind11.h>

#include "httpy/executor.hpp"

#include "httpy/call_error.hpp"
#include "httpy/detail/python_error.hpp"
#include "httpy/detail/request_handler.hpp"
#include "httpy/status.hpp"
#include "marshal/conversion_error.hpp"
#include "marshal/request_to_python.hpp"
#include "marshal/response_from_python.hpp"

#include <boost/asio/execution.hpp>
#include <boost/asio/prefer.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>
#include <vector>

namespace py = pybind11;
namespace net = boost::asio;

namespace httpy {

namespace {

using clock = std::chrono::steady_clock;

// One call, completed exactly once by whoever finishes first: the handler or its timeout.
struct pending_call {
    pending_call(request r, call_handler h)
        : req(std::move(r)), handler(std::move(h)),
          // Counts as outstanding work, so the caller's io_context keeps running until then.
          work(net::prefer(net::get_associated_executor(handler),
                           net::execution::outstanding_work.tracked)) {}

    request req;
    call_handler handler;
    net::any_completion_executor work;
    std::atomic<bool> completed{false};
};
using call_ptr = std::shared_ptr<pending_call>;

response error_response(call_error e) {
    response r = status_response(status_of(e));
    if (r.status == 503)
        r.headers.add("Retry-After", "1");
    return r;
}

// Delivers the outcome on the completion's associated executor. `immediate` is for the caller's
// own thread, where the completion must not run inline.
void complete(pending_call& call, boost::system::error_code ec, response r, bool immediate = false) {
    if (call.completed.exchange(true))
        return;
    auto work = std::move(call.work);
    auto invoke = [h = std::move(call.handler), ec, r = std::move(r)]() mutable {
        std::move(h)(ec, std::move(r));
    };
    if (immediate)
        net::execution::execute(net::prefer(work, net::execution::blocking.never), std::move(invoke));
    else
        net::execution::execute(net::prefer(work, net::execution::blocking.possibly), std::move(invoke));
}

void fail(pending_call& call, call_error e, bool immediate = false) {
    complete(call, e, error_response(e), immediate);
}

// What running a handler on a thread gave: a response, a failure, or a coroutine now running
// on the event loop (which completes the call itself).
struct deferred {};
using outcome = std::variant<response, call_error, deferred>;

bool is_awaitable(py::handle result) {
    if (PyTuple_CheckExact(result.ptr()) || PyList_CheckExact(result.ptr()))
        return false;
    return PyCoro_CheckExact(result.ptr()) || py::hasattr(result, "__await__");
}

} // namespace

struct __attribute__((visibility("hidden"))) executor::state {
    struct worker {
        std::thread thread;
        unsigned long python_id = 0;
        call_ptr current;        // guarded by mu
        clock::time_point started; // guarded by mu
        bool interrupted = false; // guarded by mu; TimeoutError was raised in `current`
    };

    explicit state(executor_options o) : options(o), workers(std::max<std::size_t>(o.threads, 1)) {}

    executor_options options;
    std::mutex mu;
    std::condition_variable work_ready;
    std::condition_variable monitor_wake;
    std::deque<call_ptr> queue;
    std::vector<worker> workers;
    std::size_t running = 0;
    bool stopping = false;
    bool monitor_idle = false;
    bool monitor_exit = false;
    std::thread monitor;
    std::atomic<std::size_t> coroutines{0};

    // Python objects: touched only with the GIL held.
    py::object handler;
    std::string handler_name = "go_request";
    py::object loop;
    std::thread loop_thread;

    bool thread_may_take(clock::time_point now) const;
    call_ptr next_call(worker& w);
    void finish_call(worker& w);
    void run_worker(worker& w);
    outcome call_python(const call_ptr& call);
    void start_coroutine(const call_ptr& call, py::object awaitable);
    void finish_coroutine(pending_call& call, py::handle future);
    py::object event_loop();
    void stop_event_loop();
    void run_monitor();
    std::optional<clock::time_point> monitor_pass(std::unique_lock<std::mutex>& lock);
    void interrupt(worker& w, const call_ptr& call);
};

// A thread may take a queued call when none is running, or when every running call has held its
// thread past `blocked_after` (it is sleeping or waiting on I/O, not using the GIL).
bool executor::state::thread_may_take(clock::time_point now) const {
    if (running == 0)
        return true;
    if (running == workers.size())
        return false;
    return std::all_of(workers.begin(), workers.end(), [&](const worker& w) {
        return !w.current || now - w.started >= options.blocked_after;
    });
}

call_ptr executor::state::next_call(worker& w) {
    std::unique_lock lock(mu);
    work_ready.wait(lock, [&] {
        return (stopping && queue.empty()) || (!queue.empty() && thread_may_take(clock::now()));
    });
    if (queue.empty())
        return nullptr;
    w.current = std::move(queue.front());
    queue.pop_front();
    w.started = clock::now();
    ++running;
    if (monitor_idle && (options.handler_timeout.count() > 0 || !queue.empty()))
        monitor_wake.notify_one();
    return w.current;
}

// Requires: GIL held, so that the monitor cannot raise TimeoutError in the next call by mistake.
void executor::state::finish_call(worker& w) {
    bool interrupted = false;
    {
        std::lock_guard lock(mu);
        w.current.reset();
        --running;
        interrupted = std::exchange(w.interrupted, false);
    }
    if (interrupted) // a TimeoutError that has not fired yet must not hit the next call
        PyThreadState_SetAsyncExc(w.python_id, nullptr);
}

void executor::state::run_worker(worker& w) {
    py::gil_scoped_acquire attach; // this thread's state, for its whole life
    w.python_id = PyThread_get_thread_ident();
    py::gil_scoped_release idle;
    while (call_ptr call = next_call(w)) {
        outcome result;
        {
            py::gil_scoped_acquire gil;
            result = call_python(call);
            finish_call(w);
        }
        if (auto* r = std::get_if<response>(&result))
            complete(*call, {}, std::move(*r));
        else if (auto* e = std::get_if<call_error>(&result))
            fail(*call, *e);
    }
}

outcome executor::state::call_python(const call_ptr& call) {
    const auto body = options.body_as_bytes ? marshal::body_type::bytes : marshal::body_type::str;
    try {
        py::object result = marshal::call_handler(handler, call->req, body);
        if (is_awaitable(result)) {
            start_coroutine(call, std::move(result));
            return deferred{};
        }
        return marshal::response_from_python(result, handler_name);
    } catch (py::error_already_set& e) {
        if (call->completed) {
            spdlog::warn("{} {} {}: handler stopped after its timeout: {}", handler_name,
                         call->req.method, call->req.path, detail::describe(e));
            return call_error::timed_out;
        }
        spdlog::error("{} {} {}: handler raised:\n{}", handler_name, call->req.method,
                      call->req.path, detail::format_traceback(e));
    } catch (const marshal::conversion_error& e) {
        spdlog::error("{} {} {}: {}", handler_name, call->req.method, call->req.path, e.what());
    } catch (const std::exception& e) {
        spdlog::error("{} {} {}: {}", handler_name, call->req.method, call->req.path, e.what());
    }
    return call_error::handler_failed;
}

void executor::state::start_coroutine(const call_ptr& call, py::object awaitable) {
    auto asyncio = py::module_::import("asyncio");
    if (options.handler_timeout.count() > 0)
        awaitable = asyncio.attr("wait_for")(
            awaitable, std::chrono::duration<double>(options.handler_timeout).count());
    ++coroutines;
    auto future = asyncio.attr("run_coroutine_threadsafe")(awaitable, event_loop());
    future.attr("add_done_callback")(py::cpp_function([this, call](py::handle f) {
        finish_coroutine(*call, f);
        --coroutines;
    }));
}

// Requires: GIL held (it runs as the future's done-callback on the event loop's thread).
void executor::state::finish_coroutine(pending_call& call, py::handle future) {
    try {
        complete(call, {}, marshal::response_from_python(future.attr("result")(), handler_name));
        return;
    } catch (py::error_already_set& e) {
        if (e.matches(PyExc_TimeoutError) && options.handler_timeout.count() > 0) {
            spdlog::warn("{} {} {}: coroutine cancelled after its timeout", handler_name,
                         call.req.method, call.req.path);
            return fail(call, call_error::timed_out);
        }
        spdlog::error("{} {} {}: coroutine raised:\n{}", handler_name, call.req.method,
                      call.req.path, detail::format_traceback(e));
    } catch (const std::exception& e) {
        spdlog::error("{} {} {}: {}", handler_name, call.req.method, call.req.path, e.what());
    }
    fail(call, call_error::handler_failed);
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

void executor::state::run_monitor() {
    py::gil_scoped_acquire attach; // needed to raise TimeoutError in other threads
    py::gil_scoped_release idle;
    std::unique_lock lock(mu);
    while (!monitor_exit) {
        auto wake_at = monitor_pass(lock);
        monitor_idle = !wake_at;
        if (wake_at)
            monitor_wake.wait_until(lock, *wake_at);
        else
            monitor_wake.wait(lock);
        monitor_idle = false;
    }
}

// One look at the running calls: wakes a thread beside blocked ones, times out overdue calls.
// Returns when to look again, or nullopt to sleep until woken.
std::optional<clock::time_point>
executor::state::monitor_pass(std::unique_lock<std::mutex>& lock) {
    const auto now = clock::now();
    std::optional<clock::time_point> wake_at;
    auto wake_no_later_than = [&](clock::time_point t) { wake_at = std::min(wake_at.value_or(t), t); };

    if (!queue.empty() && running > 0) {
        if (thread_may_take(now))
            work_ready.notify_one();
        wake_no_later_than(now + options.blocked_after / 2);
    }
    if (options.handler_timeout.count() == 0)
        return wake_at;
    std::vector<std::pair<worker*, call_ptr>> overdue;
    for (auto& w : workers) {
        if (!w.current || w.interrupted)
            continue;
        auto deadline = w.started + options.handler_timeout;
        if (deadline <= now)
            overdue.emplace_back(&w, w.current);
        else
            wake_no_later_than(deadline);
    }
    if (overdue.empty())
        return wake_at;
    lock.unlock();
    for (auto& [w, call] : overdue)
        interrupt(*w, call);
    lock.lock();
    return now; // look again at once: the state changed while unlocked
}

// Answers 504 at once, then raises TimeoutError inside the handler so its thread comes back.
void executor::state::interrupt(worker& w, const call_ptr& call) {
    spdlog::warn("{} {} {}: handler timed out after {} ms; raising TimeoutError in it",
                 handler_name, call->req.method, call->req.path, options.handler_timeout.count());
    fail(*call, call_error::timed_out);
    py::gil_scoped_acquire gil;
    std::lock_guard lock(mu);
    if (w.current != call || w.interrupted)
        return;
    w.interrupted = true;
    PyThreadState_SetAsyncExc(w.python_id, PyExc_TimeoutError);
}

executor::executor(executor_options options) : state_(std::make_unique<state>(options)) {
    for (auto& w : state_->workers)
        w.thread = std::thread([s = state_.get(), &w] { s->run_worker(w); });
    state_->monitor = std::thread([s = state_.get()] { s->run_monitor(); });
}

executor::~executor() {
    stop();
    for (auto& w : state_->workers)
        w.thread.join();
    {
        std::lock_guard lock(state_->mu);
        state_->monitor_exit = true;
        state_->monitor_wake.notify_one();
    }
    state_->monitor.join();
    // Coroutines still running have their own timeout; without one, give them the drain time.
    const auto give_up = clock::now() + std::chrono::seconds(10);
    while (state_->coroutines > 0 && clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    try {
        state_->stop_event_loop();
        py::gil_scoped_acquire gil;
        state_->handler = py::object();
    } catch (const std::exception& e) {
        spdlog::error("stopping the Python executor: {}", e.what());
    }
}

void executor::run(const std::function<void()>& setup) {
    py::gil_scoped_acquire gil;
    setup();
}

void executor::submit(request req, call_handler handler) {
    auto call = std::make_shared<pending_call>(std::move(req), std::move(handler));
    std::unique_lock lock(state_->mu);
    if (state_->stopping) {
        lock.unlock();
        return fail(*call, call_error::stopped, /*immediate=*/true);
    }
    if (state_->queue.size() >= state_->options.queue_limit) {
        lock.unlock();
        spdlog::warn("{} {}: Python work queue full ({} calls waiting); answering 503",
                     call->req.method, call->req.path, state_->options.queue_limit);
        return fail(*call, call_error::overloaded, /*immediate=*/true);
    }
    state_->queue.push_back(std::move(call));
    if (state_->thread_may_take(clock::now()))
        state_->work_ready.notify_one();
    else if (state_->monitor_idle)
        state_->monitor_wake.notify_one();
}

void executor::stop() noexcept {
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
    state_->work_ready.notify_all();
}

const executor_options& executor::options() const noexcept { return state_->options; }

void detail::set_request_handler(executor& ex, py::object handler, std::string name) {
    ex.state_->handler = std::move(handler);
    ex.state_->handler_name = std::move(name);
}

} // namespace httpy
