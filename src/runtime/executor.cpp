#include <pybind11/pybind11.h>

#include "httpy/executor.hpp"

#include "runtime/executor_state.hpp"
#include "runtime/python_error.hpp"
#include "runtime/request_handler.hpp"
#include "httpy/status.hpp"
#include "marshal/request_to_python.hpp"
#include "marshal/response_from_python.hpp"

#include <boost/asio/defer.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace py = pybind11;
namespace net = boost::asio;

namespace httpy {

namespace detail {

namespace {

response error_response(call_error e) {
    response r = status_response(status_of(e));
    if (r.status == 503)
        r.headers.add("Retry-After", "1");
    return r;
}

} // namespace

// Delivers the outcome on the completion's associated executor. `immediate` is for the caller's
// own thread, where the completion must not run inline.
void complete(pending_call& call, boost::system::error_code ec, response r, bool immediate) {
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

void fail(pending_call& call, failure f, bool immediate) {
    response r = error_response(f.error);
    if (!f.detail.empty())
        r.body += "\n" + f.detail; // status_response's text/plain body, then the cause
    complete(call, f.error, std::move(r), immediate);
}

void deliver(pending_call& call, outcome result) {
    if (auto* r = std::get_if<response>(&result))
        complete(call, {}, std::move(*r));
    else if (auto* f = std::get_if<failure>(&result))
        fail(call, std::move(*f));
}

bool is_awaitable(py::handle result) {
    if (PyTuple_CheckExact(result.ptr()) || PyList_CheckExact(result.ptr()))
        return false;
    return PyCoro_CheckExact(result.ptr()) || py::hasattr(result, "__await__");
}

} // namespace detail

using detail::deferred;
using detail::deliver;
using detail::fail;
using detail::is_awaitable;

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
        return marshal::response_from_python(result, handler_name, options.max_response_bytes);
    } catch (py::error_already_set& e) {
        if (call->completed) {
            spdlog::warn("{} {} {}: handler stopped after its timeout: {}", handler_name,
                         call->req.method, call->req.path, detail::describe(e));
            return call_error::timed_out;
        }
        return handler_failed(*call, "handler raised:\n" + detail::format_traceback(e));
    } catch (const std::exception& e) { // conversion_error included
        return handler_failed(*call, e.what());
    }
}

// Logs why the call failed; the cause reaches the client only with `expose_errors`.
failure executor::state::handler_failed(const pending_call& call, std::string cause) const {
    spdlog::error("{} {} {}: {}", handler_name, call.req.method, call.req.path, cause);
    if (!options.expose_errors)
        cause.clear();
    return {call_error::handler_failed, std::move(cause)};
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
    // A copy: on_io_thread_blocked may replace the handler (an IO pool going away) meanwhile.
    const std::function<void()> report_blocked = newly_blocked > 0 ? io_thread_blocked : nullptr;
    lock.unlock();
    for (std::size_t i = 0; i < newly_blocked && report_blocked; ++i)
        report_blocked();
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
    // `s` was found under an earlier lock; an IO thread may have left (and erased its slot)
    // since, so it is touched only if it is still one of ours.
    const bool still_ours = std::any_of(slots.begin(), slots.end(),
                                        [&s](const slot& other) { return &other == &s; });
    if (!still_ours || s.current != call || s.interrupted)
        return;
    s.interrupted = true;
    PyThreadState_SetAsyncExc(s.python_id, PyExc_TimeoutError);
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
        // strand while the handler still holds its thread. Deferred, not posted: it stays on
        // this thread's own queue instead of waking another IO thread to take it.
        boost::asio::defer(io->io, [s = state_.get(), call = std::move(call)] { s->run_inline(call); });
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
