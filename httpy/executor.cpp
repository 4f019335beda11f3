#include <pybind11/eval.h>
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
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <list>
#include <set>
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

void deliver(pending_call& call, outcome result) {
    if (auto* r = std::get_if<response>(&result))
        complete(call, {}, std::move(*r));
    else if (auto* e = std::get_if<call_error>(&result))
        fail(call, *e);
}

bool is_awaitable(py::handle result) {
    if (PyTuple_CheckExact(result.ptr()) || PyList_CheckExact(result.ptr()))
        return false;
    return PyCoro_CheckExact(result.ptr()) || py::hasattr(result, "__await__");
}

} // namespace

// A thread that runs calls: one of the executor's own, or an IO thread running them itself.
struct slot {
    unsigned long python_id = 0;
    bool io = false;
    call_ptr current;              // guarded by mu
    clock::time_point started;     // guarded by mu
    bool interrupted = false;      // guarded by mu; TimeoutError was raised in `current`
    bool reported_blocked = false; // guarded by mu; `current` counts in blocked_io
};

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
    py::object handler;
    std::string handler_name = "go_request";
    py::object loop;
    py::object await_any;
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
    void start_coroutine(const call_ptr& call, py::object awaitable);
    outcome coroutine_outcome(const pending_call& call, py::handle future,
                              clock::time_point started);
    py::object as_coroutine(py::object awaitable);
    void abandon_coroutines();
    py::object event_loop();
    void stop_event_loop();
    void run_monitor();
    std::optional<clock::time_point> monitor_pass(std::unique_lock<std::mutex>& lock);
    void interrupt(slot& s, const call_ptr& call);
};

// The IO thread the calling thread is, if any.
struct executor::io_thread::state {
    executor::state* owner = nullptr;
    slot* own = nullptr;
    boost::asio::any_io_executor io;
    std::optional<py::gil_scoped_acquire> attached;
    std::optional<py::gil_scoped_release> released;
};

namespace {
thread_local executor::io_thread::state* current_io_thread = nullptr;
}

bool executor::state::all_running_blocked(clock::time_point now) const {
    return std::all_of(slots.begin(), slots.end(), [&](const slot& s) {
        return !s.current || now - s.started >= options.blocked_after;
    });
}

// One of the executor's threads may take a queued call when no call is running, or when every
// running call has held its thread past `blocked_after` (sleeping or waiting on I/O, not using
// the GIL), and fewer than `threads` run.
bool executor::state::thread_may_take(clock::time_point now) const {
    if (running == 0)
        return true;
    return running < options.threads && all_running_blocked(now);
}

// Requires: mu held.
void executor::state::start_call(slot& s, call_ptr call) {
    s.current = std::move(call);
    s.started = clock::now();
    ++running;
    // The monitor must look before this call could count as blocked or overdue.
    auto due = clock::time_point::max();
    if (s.io)
        due = s.started + options.blocked_after;
    if (options.handler_timeout.count() > 0)
        due = std::min(due, s.started + options.handler_timeout);
    if (due < monitor_wakes_at)
        monitor_wake.notify_one();
}

call_ptr executor::state::next_call(slot& s) {
    std::unique_lock lock(mu);
    work_ready.wait(lock, [&] {
        return (stopping && queue.empty()) || (!queue.empty() && thread_may_take(clock::now()));
    });
    if (queue.empty())
        return nullptr;
    call_ptr call = std::move(queue.front());
    queue.pop_front();
    start_call(s, call);
    return call;
}

// Requires: GIL held, so that the monitor cannot raise TimeoutError in the next call by mistake.
void executor::state::finish_call(slot& s) {
    bool interrupted = false;
    {
        std::lock_guard lock(mu);
        s.current.reset();
        --running;
        interrupted = std::exchange(s.interrupted, false);
        if (std::exchange(s.reported_blocked, false))
            --blocked_io;
        // An IO thread takes the queue on itself (see run_inline); wake a worker otherwise.
        if (!s.io && !queue.empty() && thread_may_take(clock::now()))
            work_ready.notify_one();
    }
    if (interrupted) // a TimeoutError that has not fired yet must not hit the next call
        PyThreadState_SetAsyncExc(s.python_id, nullptr);
}

void executor::state::run_call(slot& s, const call_ptr& call) {
    outcome result;
    {
        py::gil_scoped_acquire gil;
        result = call_python(call);
        finish_call(s);
    }
    deliver(*call, std::move(result));
}

void executor::state::run_worker(slot& s) {
    py::gil_scoped_acquire attach; // this thread's state, for its whole life
    s.python_id = PyThread_get_thread_ident();
    py::gil_scoped_release idle;
    while (call_ptr call = next_call(s))
        run_call(s, call);
}

// Runs on whichever IO thread picked the posted call up. When no call is running it runs
// there, then keeps taking queued calls while none other runs. When one is running, the call
// joins the queue instead of waiting for the GIL: the thread in Python takes it next, so IO
// threads never queue up on the GIL and hand it to each other per call.
void executor::state::run_inline(const call_ptr& call) {
    auto* io = current_io_thread;
    {
        std::unique_lock lock(mu);
        if (!io || io->owner != this || running > 0) {
            if (!enqueue(call, lock))
                fail(*call, call_error::overloaded);
            return;
        }
        start_call(*io->own, call);
    }
    run_call(*io->own, call);
    while (call_ptr next = next_inline_call(*io->own))
        run_call(*io->own, next);
}

// The next queued call for an IO thread that just finished one, or null.
call_ptr executor::state::next_inline_call(slot& s) {
    std::lock_guard lock(mu);
    if (queue.empty() || running > 0)
        return nullptr;
    call_ptr call = std::move(queue.front());
    queue.pop_front();
    start_call(s, call);
    return call;
}

// Requires: `lock` holds mu. Returns false, unlocked, when the queue is full.
bool executor::state::enqueue(call_ptr call, std::unique_lock<std::mutex>& lock) {
    if (queue.size() >= options.queue_limit) {
        lock.unlock();
        spdlog::warn("{} {}: Python work queue full ({} calls waiting); answering 503",
                     call->req.method, call->req.path, options.queue_limit);
        return false;
    }
    queue.push_back(std::move(call));
    const auto now = clock::now();
    if (thread_may_take(now))
        work_ready.notify_one();
    else if (now + options.blocked_after < monitor_wakes_at)
        monitor_wake.notify_one();
    return true;
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
        return marshal::response_from_python(future.attr("result")(), handler_name);
    } catch (py::error_already_set& e) {
        // A TimeoutError raised by the handler's own code before the deadline is its failure.
        const bool ours = e.matches(PyExc_TimeoutError) && options.handler_timeout.count() > 0 &&
                          clock::now() - started >= options.handler_timeout;
        if (ours) {
            spdlog::warn("{} {} {}: coroutine cancelled after its timeout", handler_name,
                         call.req.method, call.req.path);
            return call_error::timed_out;
        }
        spdlog::error("{} {} {}: coroutine raised:\n{}", handler_name, call.req.method,
                      call.req.path, detail::format_traceback(e));
    } catch (const std::exception& e) {
        spdlog::error("{} {} {}: {}", handler_name, call.req.method, call.req.path, e.what());
    }
    return call_error::handler_failed;
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

void executor::state::run_monitor() {
    py::gil_scoped_acquire attach; // needed to raise TimeoutError in other threads
    py::gil_scoped_release idle;
    std::unique_lock lock(mu);
    while (!monitor_exit) {
        auto wake_at = monitor_pass(lock);
        monitor_wakes_at = wake_at.value_or(clock::time_point::max());
        if (wake_at)
            monitor_wake.wait_until(lock, *wake_at);
        else
            monitor_wake.wait(lock);
        monitor_wakes_at = clock::time_point::min();
    }
}

// One look at the running calls: wakes a thread beside blocked ones, reports blocked IO
// threads, times out overdue calls. Returns when to look again, or nullopt to sleep until woken.
std::optional<clock::time_point>
executor::state::monitor_pass(std::unique_lock<std::mutex>& lock) {
    const auto now = clock::now();
    std::optional<clock::time_point> wake_at;
    auto wake_no_later_than = [&](clock::time_point t) { wake_at = std::min(wake_at.value_or(t), t); };

    if (!queue.empty() && running > 0) {
        if (thread_may_take(now))
            work_ready.notify_one();
        wake_no_later_than(now + options.blocked_after);
    }
    // While calls keep coming, tick instead of sleeping until woken: a call can then start
    // without waking the monitor (a futex call) every time.
    if (running > 0 || !queue.empty())
        last_busy = now;
    else if (now - last_busy < std::chrono::milliseconds(100))
        wake_no_later_than(now + options.blocked_after);
    std::size_t newly_blocked = 0;
    std::vector<std::pair<slot*, call_ptr>> overdue;
    for (auto& s : slots) {
        if (!s.current)
            continue;
        if (s.io && !s.reported_blocked) {
            if (now - s.started >= options.blocked_after) {
                s.reported_blocked = true;
                ++blocked_io;
                ++newly_blocked;
            } else {
                wake_no_later_than(s.started + options.blocked_after);
            }
        }
        if (options.handler_timeout.count() == 0 || s.interrupted)
            continue;
        const auto deadline = s.started + options.handler_timeout;
        if (deadline <= now)
            overdue.emplace_back(&s, s.current);
        else
            wake_no_later_than(deadline);
    }
    if (newly_blocked == 0 && overdue.empty())
        return wake_at;
    lock.unlock();
    for (std::size_t i = 0; i < newly_blocked && io_thread_blocked; ++i)
        io_thread_blocked();
    for (auto& [s, call] : overdue)
        interrupt(*s, call);
    lock.lock();
    return now; // look again at once: the state changed while unlocked
}

// Answers 504 at once, then raises TimeoutError inside the handler so its thread comes back.
void executor::state::interrupt(slot& s, const call_ptr& call) {
    spdlog::warn("{} {} {}: handler timed out after {} ms; raising TimeoutError in it",
                 handler_name, call->req.method, call->req.path, options.handler_timeout.count());
    fail(*call, call_error::timed_out);
    py::gil_scoped_acquire gil;
    std::lock_guard lock(mu);
    if (s.current != call || s.interrupted)
        return;
    s.interrupted = true;
    PyThreadState_SetAsyncExc(s.python_id, PyExc_TimeoutError);
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

executor::executor(executor_options options) : state_(std::make_unique<state>(options)) {
    state_->options.threads = std::max<std::size_t>(state_->options.threads, 1);
    state_->options.queue_limit = std::max<std::size_t>(state_->options.queue_limit, 1);
    for (std::size_t i = 0; i < state_->options.threads; ++i) {
        slot& s = state_->slots.emplace_back();
        state_->threads.emplace_back([st = state_.get(), &s] { st->run_worker(s); });
    }
    state_->monitor = std::thread([s = state_.get()] { s->run_monitor(); });
}

executor::~executor() {
    stop();
    for (auto& t : state_->threads)
        t.join();
    {
        std::lock_guard lock(state_->mu);
        state_->monitor_exit = true;
        state_->monitor_wake.notify_one();
    }
    state_->monitor.join();
    state_->abandon_coroutines();
    try {
        state_->stop_event_loop();
        py::gil_scoped_acquire gil;
        state_->handler = py::object();
        state_->await_any = py::object();
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
    auto* io = current_io_thread;
    if (io && io->owner == state_.get()) {
        // Run it on this pool, outside the caller's strand: a timeout can then answer on the
        // strand while the handler still holds its thread.
        boost::asio::post(io->io, [s = state_.get(), call = std::move(call)] { s->run_inline(call); });
        return;
    }
    std::unique_lock lock(state_->mu);
    if (state_->stopping) {
        lock.unlock();
        return fail(*call, call_error::stopped, /*immediate=*/true);
    }
    if (!state_->enqueue(call, lock))
        fail(*call, call_error::overloaded, /*immediate=*/true);
}

void executor::stop() noexcept {
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
    state_->work_ready.notify_all();
}

const executor_options& executor::options() const noexcept { return state_->options; }

void executor::on_io_thread_blocked(std::function<void()> handler) {
    std::lock_guard lock(state_->mu);
    state_->io_thread_blocked = std::move(handler);
}

std::size_t executor::blocked_io_threads() const noexcept { return state_->blocked_io; }

executor::io_thread::io_thread(executor& ex, boost::asio::any_io_executor io)
    : state_(std::make_unique<state>()) {
    state_->owner = ex.state_.get();
    state_->io = std::move(io);
    state_->attached.emplace(); // this thread's Python state, for its whole life
    const auto id = PyThread_get_thread_ident();
    state_->released.emplace();
    std::lock_guard lock(ex.state_->mu);
    state_->own = &ex.state_->slots.emplace_back(slot{.python_id = id, .io = true});
    current_io_thread = state_.get();
}

executor::io_thread::~io_thread() {
    current_io_thread = nullptr;
    {
        std::lock_guard lock(state_->owner->mu);
        state_->owner->slots.remove_if([this](const slot& s) { return &s == state_->own; });
    }
    state_->released.reset();
    state_->attached.reset();
}

void detail::set_request_handler(executor& ex, py::object handler, std::string name) {
    ex.state_->handler = std::move(handler);
    ex.state_->handler_name = std::move(name);
}

} // namespace httpy
