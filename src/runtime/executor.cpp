#include <pybind11/pybind11.h>

#include "httpy/executor.hpp"

#include "runtime/executor_state.hpp"
#include "runtime/python_error.hpp"
#include "httpy/status.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/error.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <new>

namespace py = pybind11;
namespace net = boost::asio;

namespace httpy {

namespace detail {

namespace {

response error_response(const boost::system::error_code& ec) {
    if (ec.category() != call_category())
        return status_response(503); // cancelled by its caller
    response r = status_response(status_of(static_cast<call_error>(ec.value())));
    if (r.status == 503)
        r.headers.add("Retry-After", "1");
    return r;
}

} // namespace

void log_line::write() const {
    if (level != spdlog::level::off)
        spdlog::log(level, "{}", text);
}

// Delivers the outcome on the completion's associated executor. `immediate` is for the caller's
// own thread, where the completion must not run inline.
void complete(python_call& call, boost::system::error_code ec, response r, bool immediate) {
    if (call.completed.exchange(true))
        return;
    auto work = std::move(call.work);
    auto invoke = [h = std::move(call.handler), ec, r = std::move(r),
                   clear = call.cancellable]() mutable {
        if (clear) // on the completion's executor, where its caller emits cancellation
            net::get_associated_cancellation_slot(h).clear();
        std::move(h)(call_result{ec, std::move(r)});
    };
    if (immediate)
        net::execution::execute(net::prefer(work, net::execution::blocking.never), std::move(invoke));
    else
        net::execution::execute(net::prefer(work, net::execution::blocking.possibly), std::move(invoke));
}

void fail(python_call& call, failure f, bool immediate) {
    response r = error_response(f.error);
    if (!f.detail.empty())
        r.body += "\n" + f.detail; // status_response's text/plain body, then the cause
    complete(call, f.error, std::move(r), immediate);
}

void deliver(python_call& call, outcome result, bool immediate) {
    if (auto* r = std::get_if<response>(&result)) {
        complete(call, {}, std::move(*r), immediate);
    } else if (auto* f = std::get_if<failure>(&result)) {
        f->log.write();
        fail(call, std::move(*f), immediate);
    }
}

} // namespace detail

using detail::call_phase;
using detail::deferred;
using detail::deliver;
using detail::fail;
using detail::overdue_call;

// The IO thread the calling thread is, if any.
struct executor::io_thread::state {
    executor::state* owner = nullptr;
    slot* own = nullptr;
    unsigned long python_id = 0;
    boost::asio::any_io_executor io;
    // The thread's Python thread state (a C struct, not an object), made by this IO thread and
    // dropped by it; null when the thread had one already (the interpreter's own thread).
    PyThreadState* python = nullptr;
};

namespace {
thread_local executor::io_thread::state* current_io_thread = nullptr;
}

bool executor::state::on_io_thread() const noexcept {
    return current_io_thread != nullptr && current_io_thread->owner == this;
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

// With a cancellation slot bound to the completion, connects it to `cancel`. Nothing more (no
// allocation, no lock) when none is.
void executor::state::connect_cancellation(const call_ptr& call) {
    auto cancellation = net::get_associated_cancellation_slot(call->handler);
    if (!cancellation.is_connected())
        return;
    call->cancellable = true;
    cancellation.assign([self = weak_from_this(), weak = std::weak_ptr<python_call>(call)](
                            net::cancellation_type type) {
        auto st = self.lock();
        auto c = weak.lock();
        if (st && c)
            st->cancel(c, type);
    });
}

// The caller's cancellation. Terminal or partial: a call no thread has taken never runs and
// completes now; a running one is left to the monitor, which interrupts it as it would at its
// deadline. Total is the server's word that the client has closed the connection, or only its
// sending side (the two look alike until a write fails), so nothing is cancelled, not even a
// queued call: a client that shut down its sending side after its request still reads the
// answer. A coroutine that asked to know is told (an ASGI application's receive() returns
// http.disconnect).
void executor::state::cancel(const call_ptr& call, net::cancellation_type type) {
    using net::cancellation_type;
    constexpr auto interrupting = cancellation_type::terminal | cancellation_type::partial;
    std::unique_lock lock(mu);
    if ((type & interrupting) == cancellation_type::none) {
        if ((type & cancellation_type::total) == cancellation_type::none || call->client_left)
            return;
        call->client_left = true; // a coroutine not started yet is told when it starts
        if (call->phase == call_phase::awaiting) {
            to_tell_left.push_back(call->coroutine);
            lock.unlock();
            wake_loop();
        }
        return;
    }
    if (call->phase == call_phase::waiting) {
        call->phase = call_phase::finished; // whoever picks it up next skips it
        if (auto it = std::find(queue.begin(), queue.end(), call); it != queue.end())
            queue.erase(it);
        lock.unlock();
        return fail(*call, failure(net::error::operation_aborted), /*immediate=*/true);
    }
    if (call->phase == call_phase::finished)
        return;
    call->cancel_requested = true;
    monitor_wake.notify_one();
}

void executor::state::submit_queued(call_ptr call) {
    std::unique_lock lock(mu);
    if (stopping) {
        call->phase = call_phase::finished;
        lock.unlock();
        return fail(*call, call_error::stopped, /*immediate=*/true);
    }
    if (!enqueue(call, lock))
        fail(*call, call_error::overloaded, /*immediate=*/true);
}

// Requires: mu held.
void executor::state::start_call(slot& s, call_ptr call) {
    const auto now = clock::now();
    call->phase = call_phase::running;
    call->started = now;
    s.current = std::move(call);
    s.started = now;
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
        if (s.current->phase == call_phase::running) // not a coroutine now on the event loop
            s.current->phase = call_phase::finished;
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
        const auto asked = clock::now();
        py::gil_scoped_acquire gil;
        gil_wait_ns.fetch_add(std::chrono::nanoseconds(clock::now() - asked).count(),
                              std::memory_order_relaxed);
        result = call_python(call);
        finish_call(s);
    }
    deliver(*call, std::move(result)); // logs, if it must, now that the GIL is released
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
        if (call->phase != call_phase::waiting)
            return; // cancelled by its caller meanwhile
        if (stopping) {
            call->phase = call_phase::finished;
            lock.unlock();
            return fail(*call, call_error::stopped);
        }
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

// A blocking call from an IO thread: runs here and now, whatever else runs (it waits for the
// GIL like any Python thread). A slot of its own, as the IO thread's may be in use by a handler
// that called back into C++; the monitor sees it like any other call.
void executor::state::run_in_place(const call_ptr& call) {
    std::list<slot>::iterator own;
    {
        std::unique_lock lock(mu);
        if (stopping) {
            call->phase = call_phase::finished;
            lock.unlock();
            return fail(*call, call_error::stopped);
        }
        own = slots.insert(slots.end(), slot{.python_id = current_io_thread->python_id, .io = true});
        start_call(*own, call);
    }
    run_call(*own, call);
    std::lock_guard lock(mu);
    slots.erase(own);
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
        spdlog::warn("{}: Python work queue full ({} calls waiting); answering 503",
                     call->describe(), options.queue_limit);
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

// Requires: GIL held. Whatever must be logged travels in the failure, written once it is released.
outcome executor::state::call_python(const call_ptr& call) {
    try {
        detail::run_result result = call->run();
        if (auto* r = std::get_if<response>(&result))
            return std::move(*r);
        start_coroutine(call, std::move(std::get<detail::awaitable_result>(result)));
        return deferred{};
    } catch (py::error_already_set& e) {
        if (call->completed) {
            failure late(call_error::timed_out);
            late.log = {spdlog::level::warn, call->describe() +
                                                 ": handler stopped after its call was answered: " +
                                                 detail::describe(e)};
            return late;
        }
        return handler_failed(*call, "handler raised:\n" + detail::format_traceback(e));
    } catch (const std::exception& e) { // conversion_error included
        return handler_failed(*call, e.what());
    }
}

// Why the call failed, for the log; the cause reaches the client only with `expose_errors`.
failure executor::state::handler_failed(const python_call& call, std::string cause) const {
    failure f(call_error::handler_failed, options.expose_errors ? cause : std::string());
    f.log = {spdlog::level::err, call.describe() + ": " + cause};
    return f;
}

// Never takes the GIL (the interrupter thread raises TimeoutError for it), so that no handler,
// not even one holding the GIL in a C call, can delay another call's answer.
void executor::state::run_monitor() {
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
// threads, answers overdue and cancelled calls (coroutines included), pings the event loop.
// Returns when to look again, or nullopt to sleep until woken. Never waits for the GIL while
// it still has calls to answer: those are answered first.
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
    std::vector<overdue_call> overdue;
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
        if (s.interrupted)
            continue;
        const auto deadline = s.started + options.handler_timeout;
        const bool timed_out = options.handler_timeout.count() > 0 && deadline <= now;
        if (s.current->cancel_requested || timed_out) {
            s.interrupted = true; // TimeoutError is on its way (see run_interrupter)
            interrupts.emplace_back(&s, s.current);
            overdue.push_back({&s, s.current,
                               timed_out ? make_error_code(call_error::timed_out)
                                         : boost::system::error_code(net::error::operation_aborted)});
        } else if (options.handler_timeout.count() > 0) {
            wake_no_later_than(deadline);
        }
    }
    bool wake_loop_now = false;
    std::vector<std::string> loop_notes;
    watch_coroutines(now, overdue, wake_at, wake_loop_now, loop_notes);
    if (newly_blocked == 0 && overdue.empty() && !wake_loop_now && loop_notes.empty())
        return wake_at;
    // A copy: on_io_thread_blocked may replace the handler (an IO pool going away) meanwhile.
    const std::function<void()> report_blocked = newly_blocked > 0 ? io_thread_blocked : nullptr;
    lock.unlock();
    if (wake_loop_now)
        wake_loop();
    for (const auto& note : loop_notes)
        spdlog::warn("{}", note);
    for (std::size_t i = 0; i < newly_blocked && report_blocked; ++i)
        report_blocked();
    for (const auto& o : overdue)
        answer_overdue(o);
    lock.lock();
    if (!interrupts.empty())
        interrupt_ready.notify_one();
    if (!overdue.empty())
        coroutines_done.notify_all();
    return now; // look again at once: the state changed while unlocked
}

// Answers at once: 504, or 503 when its caller cancelled it. A synchronous handler then gets
// TimeoutError raised in it, a coroutine has its task cancelled, so that its thread comes back.
void executor::state::answer_overdue(const overdue_call& o) {
    if (o.call->completed)
        return;
    const bool cancelled = o.why == net::error::operation_aborted;
    const char* next = o.running_in ? "raising TimeoutError in it" : "cancelling its coroutine";
    if (cancelled)
        spdlog::warn("{}: cancelled by its caller; answering 503 and {}", o.call->describe(), next);
    else
        spdlog::warn("{}: {} timed out after {} ms; answering 504 and {}", o.call->describe(),
                     o.running_in ? "handler" : "coroutine", options.handler_timeout.count(), next);
    fail(*o.call, o.why);
}

// Raises TimeoutError in the handlers the monitor answered. A thread of its own, so that the
// monitor never waits for the GIL.
void executor::state::run_interrupter() {
    py::gil_scoped_acquire attach; // this thread's state, for its whole life
    py::gil_scoped_release idle;
    std::unique_lock lock(mu);
    for (;;) {
        interrupt_ready.wait(lock, [&] { return interrupter_exit || !interrupts.empty(); });
        if (interrupts.empty())
            return;
        auto batch = std::exchange(interrupts, {});
        lock.unlock();
        {
            py::gil_scoped_acquire gil;
            std::lock_guard relock(mu);
            for (const auto& [s, call] : batch)
                interrupt(*s, call);
        }
        lock.lock();
    }
}

// Requires: GIL and mu held.
void executor::state::interrupt(slot& s, const call_ptr& call) {
    // `s` was found under an earlier lock; an IO thread may have left (and erased its slot)
    // since, so it is touched only if it is still one of ours, still running that call.
    const bool still_ours = std::any_of(slots.begin(), slots.end(),
                                        [&s](const slot& other) { return &other == &s; });
    if (still_ours && s.current == call && s.interrupted)
        PyThreadState_SetAsyncExc(s.python_id, PyExc_TimeoutError);
}

std::shared_ptr<executor::state> executor::state::start(executor_options options) {
    auto pool = std::make_shared<state>(options);
    pool->options.threads = std::max<std::size_t>(pool->options.threads, 1);
    pool->options.queue_limit = std::max<std::size_t>(pool->options.queue_limit, 1);
    for (std::size_t i = 0; i < pool->options.threads; ++i) {
        slot& s = pool->slots.emplace_back();
        pool->threads.emplace_back([st = pool.get(), &s] { st->run_worker(s); });
    }
    pool->monitor = std::thread([st = pool.get()] { st->run_monitor(); });
    pool->interrupter = std::thread([st = pool.get()] { st->run_interrupter(); });
    return pool;
}

void executor::state::shut_down() noexcept {
    {
        std::lock_guard lock(mu);
        stopping = true;
        work_ready.notify_all();
    }
    for (auto& t : threads)
        t.join();
    abandon_coroutines(); // the monitor still answers their deadlines meanwhile
    const bool loop_back = stop_event_loop();
    {
        std::lock_guard lock(mu);
        monitor_exit = true;
        monitor_wake.notify_one();
    }
    monitor.join();
    {
        std::lock_guard lock(mu);
        interrupter_exit = true;
        interrupt_ready.notify_one();
    }
    interrupter.join();
    if (loop_back) // else the loop's thread drops them when (if ever) it comes back
        drop_python_objects();
    else
        forget_coroutines(); // answered: what they were made by may go now
}

void executor::state::submit(call_ptr call) {
    connect_cancellation(call);
    auto* io = current_io_thread;
    if (io && io->owner == this) {
        // Run it on this pool, outside the caller's strand: a timeout can then answer on the
        // strand while the handler still holds its thread. Deferred, not posted: it stays on
        // this thread's own queue instead of waking another IO thread to take it.
        boost::asio::defer(io->io, [s = shared_from_this(), call = std::move(call)] {
            s->run_inline(call);
        });
        return;
    }
    submit_queued(std::move(call));
}

void executor::state::call_blocking(call_ptr call) {
    connect_cancellation(call);
    auto* io = current_io_thread;
    if (io && io->owner == this)
        return run_in_place(call);
    submit_queued(std::move(call));
}

void executor::state::keep(py::object object) { kept.push_back(std::move(object)); }

executor::executor(std::shared_ptr<state> pool) noexcept : state_(std::move(pool)) {}

executor::~executor() { state_->shut_down(); }

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

executor_load executor::load() const {
    std::lock_guard lock(state_->mu);
    return {.queued = state_->queue.size(),
            .running = state_->running,
            .coroutines = state_->coroutines.size(),
            .gil_wait = std::chrono::nanoseconds(
                state_->gil_wait_ns.load(std::memory_order_relaxed))};
}

executor::io_thread::io_thread(executor& ex, boost::asio::any_io_executor io)
    : state_(std::make_unique<state>()) {
    state_->owner = ex.state_.get();
    state_->io = std::move(io);
    // PyThreadState_New needs no GIL (documented): a spare IO thread starts serving at once even
    // while a handler holds the GIL. PyGILState, and so pybind11, finds it from then on.
    if (!PyGILState_GetThisThreadState()) {
        state_->python = PyThreadState_New(PyInterpreterState_Main());
        if (!state_->python)
            throw std::bad_alloc();
    }
    state_->python_id = PyThread_get_thread_ident();
    std::lock_guard lock(ex.state_->mu);
    state_->own = &ex.state_->slots.emplace_back(slot{.python_id = state_->python_id, .io = true});
    current_io_thread = state_.get();
}

executor::io_thread::~io_thread() {
    current_io_thread = nullptr;
    {
        std::lock_guard lock(state_->owner->mu);
        state_->owner->slots.remove_if([this](const slot& s) { return &s == state_->own; });
    }
    if (!state_->python)
        return;
    PyEval_RestoreThread(state_->python);
    PyThreadState_Clear(state_->python);
    PyThreadState_DeleteCurrent(); // and releases the GIL
}

} // namespace httpy
