#include <pybind11/eval.h>
#include <pybind11/pybind11.h>

#include "runtime/executor_state.hpp"
#include "runtime/response_stream.hpp"

#include "runtime/python_callback.hpp"
#include "runtime/python_error.hpp"
#include "runtime/python_threads.hpp"

#include <boost/asio/error.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <system_error>
#include <utility>

#include <sys/eventfd.h>
#include <unistd.h>

namespace py = pybind11;
namespace net = boost::asio;

// The executor's coroutine support: `async def` handlers run on one asyncio event loop that the
// executor owns, on a thread of its own. A coroutine starts on the thread that made it when
// the loop's thread is waiting for events: that thread takes the loop's turn (see
// Runner.run_inline) and runs it up to its first real wait, so a request whose app awaits
// nothing real never changes threads. Everything else reaches the loop through one eventfd,
// written without the GIL and without running Python: coroutines to start (handed over under
// the mutex, so no TimeoutError can land half-way through a hand-off), tasks to cancel, the
// monitor's pings and the stop. The loop never owns a deadline: the monitor answers every
// coroutine call at its deadline, whatever the coroutine does, and only then has its task
// cancelled; unanswered pings tell it when a coroutine is blocking the loop.

namespace httpy {

namespace {

// The loop's Python side. `Step` drives a handler's coroutine for its task and marks whose step
// runs, so that the monitor can name a coroutine that blocks the loop; asyncio's C Task calls
// its send() and throw() like a coroutine's.
constexpr const char* loop_source = R"(
import asyncio
import os
import selectors
import threading
import types
from asyncio import events

# How many rounds of ready callbacks a thread taking the loop's turn runs at most.
INLINE_ROUNDS = 64


async def _await(awaitable):
    return await awaitable


class Step:
    __slots__ = ("_coro", "id", "_mark", "client_left")

    def __init__(self, coro, id, mark, client_left):
        self._coro = coro
        self.id = id
        self._mark = mark
        self.client_left = client_left  # called when its call's client closes, or None

    def send(self, value):
        self._mark(self.id)
        try:
            return self._coro.send(value)
        finally:
            self._mark(0)

    def throw(self, *exc):
        self._mark(self.id)
        try:
            return self._coro.throw(*exc)
        finally:
            self._mark(0)

    def close(self):
        return self._coro.close()

    def __await__(self):
        return self._coro.__await__()


class TurnSelector(selectors.DefaultSelector):
    """The asyncio loop's selector. The loop's thread holds `turn` except while it waits in
    select(), so another thread holding the GIL may take the turn and run the loop's ready
    callbacks itself (see Runner.run_inline)."""

    def __init__(self, turn):
        super().__init__()
        self._turn = turn
        self.owner = None

    def select(self, timeout=None):
        if threading.get_ident() != self.owner:
            return super().select(timeout)
        self._turn.release()
        try:
            return super().select(timeout)
        finally:
            self._turn.acquire()


def new_loop(kind):
    """(loop, turn): uvloop's loop and no turn, or asyncio's with the lock of its turn. "auto"
    is uvloop when it can be imported, asyncio's otherwise; "uvloop" without it fails."""
    if kind != "asyncio":
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise
        else:
            return uvloop.new_event_loop(), None
    turn = threading.Lock()
    return asyncio.SelectorEventLoop(TurnSelector(turn)), turn


class Runner:
    def __init__(self, fd, mark, woken, finished, kind):
        self.loop, self._turn = new_loop(kind)
        self.tasks = {}
        self._fd = fd
        self._mark = mark
        self._woken = woken
        self._finished = finished
        self._stopping = False
        self.loop.add_reader(fd, self._wake)

    def run(self):
        if self._turn is not None:
            self.loop._selector.owner = threading.get_ident()
            self._turn.acquire()
        try:
            self.loop.run_forever()
            if self.tasks:  # cancelled by the stop: a short turn to unwind, never more
                self.loop.call_later(0.1, self.loop.stop)
                self.loop.run_forever()
        finally:
            if self._turn is not None:
                self._turn.release()
            for task in self.tasks.values():  # ignoring cancellation: closed, not logged
                task._log_destroy_pending = False
                try:
                    task.get_coro().close()
                except BaseException:
                    pass
            self.loop.remove_reader(self._fd)
            self.loop.close()

    def start(self, id, awaitable, client_left):
        if type(awaitable) is not types.CoroutineType:
            awaitable = _await(awaitable)
        task = self.loop.create_task(Step(awaitable, id, self._mark, client_left))
        self.tasks[id] = task
        task.add_done_callback(self._done)
        if self._stopping:
            task.cancel()  # before its first step: the coroutine never runs

    def run_inline(self, id, awaitable, client_left):
        """Starts the task on the calling thread while the loop's thread waits in select():
        takes the loop's turn and runs its ready callbacks until none is left (the task's
        steps up to its first real wait, whatever they made ready), then hands the rest to the
        loop's thread, woken only when something is left for it. False, having done nothing,
        when the loop is not waiting (or is uvloop's, which has no turn to take)."""
        if self._turn is None or not self._turn.acquire(False):
            return False
        loop = self.loop
        scheduled = loop._scheduled
        earliest = scheduled[0] if scheduled else None
        previous = events._get_running_loop()
        events._set_running_loop(loop)
        try:
            self.start(id, awaitable, client_left)
            ready = loop._ready
            for _ in range(INLINE_ROUNDS):
                count = len(ready)
                if count == 0:
                    break
                for _ in range(count):
                    handle = ready.popleft()
                    if not handle._cancelled:
                        handle._run()
        finally:
            events._set_running_loop(previous)
            # The loop's thread computed its wait before this: wake it for what is left to it.
            if ready or (scheduled and scheduled[0] is not earliest):
                loop._write_to_self()
            self._turn.release()
        return True

    async def next_chunk(self, aiterator):
        """The next item of a streamed body's async iterator, None at its end; empty strings and
        buffers are skipped (an empty chunk would end the body)."""
        while True:
            try:
                item = await anext(aiterator)
            except StopAsyncIteration:
                return None
            if not (isinstance(item, (str, bytes, bytearray, memoryview)) and len(item) == 0):
                return item

    def _done(self, task):
        id = task.get_coro().id
        del self.tasks[id]
        self._finished(id, task)
        if self._stopping and not self.tasks:
            self.loop.stop()

    def _wake(self):
        try:
            os.read(self._fd, 8)
        except BlockingIOError:
            pass
        stop, starts, cancels, left = self._woken()
        for id, awaitable, client_left in starts:  # first: the rest may be for one of them
            try:
                self.start(id, awaitable, client_left)
            except BaseException as e:  # its call fails (500) rather than never ending
                failed = self.loop.create_future()
                failed.set_exception(e)
                self._finished(id, failed)
        for id in cancels:
            task = self.tasks.get(id)
            if task is not None:
                task.cancel()
        for id in left:
            task = self.tasks.get(id)
            told = task.get_coro().client_left if task is not None else None
            if told is not None:
                told()
        if stop and not self._stopping:
            self._stopping = True
            for task in self.tasks.values():
                task.cancel()
            self.loop.stop()
)";

} // namespace

// Requires: GIL held. Once, when the app is loaded: the loop and its thread exist before any
// call can need them.
void executor::state::start_event_loop() {
    if (runner)
        return;
    const char* kind = options.event_loop == loop_kind::asyncio  ? "asyncio"
                       : options.event_loop == loop_kind::uvloop ? "uvloop"
                                                                 : "auto";
    wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0)
        throw std::system_error(errno, std::generic_category(), "eventfd for the event loop");
    py::dict scope;
    scope["__name__"] = "httpy_event_loop";
    py::exec(loop_source, scope);
    const std::weak_ptr<state> weak = weak_from_this();
    runner = scope["Runner"](
        // Called around every coroutine step and at every task's end: C functions, not
        // pybind11's, whose per-call argument casting costs more than the step itself.
        wake_fd, detail::python_callback("mark", [weak](detail::callback_args args) {
            const auto id = args.size() == 1 ? PyLong_AsUnsignedLongLong(args[0]) : 0;
            if (PyErr_Occurred() != nullptr)
                throw py::error_already_set();
            if (auto s = weak.lock())
                s->stepping.store(id, std::memory_order_relaxed);
            return py::none();
        }),
        py::cpp_function([weak]() -> py::tuple {
            if (auto s = weak.lock())
                return s->loop_woken();
            return py::make_tuple(true, py::list(), py::list(), py::list());
        }),
        detail::python_callback("finished", [weak](detail::callback_args args) {
            if (args.size() != 2)
                throw py::type_error("finished() takes 2 arguments");
            const auto id = PyLong_AsUnsignedLongLong(args[0]);
            if (PyErr_Occurred() != nullptr)
                throw py::error_already_set();
            if (auto s = weak.lock())
                s->coroutine_finished(id, args[1]);
            return py::none();
        }),
        kind);
    runner_run_inline = runner.attr("run_inline");
    loop_thread = std::thread([self = shared_from_this()] { self->run_event_loop(); });
}

// The loop's thread. It shares the state, so that a loop left running at shutdown (blocked by a
// handler) still finds it when it comes back; it then drops the Python objects itself.
void executor::state::run_event_loop() {
    bool left = false;
    {
        py::gil_scoped_acquire gil;
        detail::log_line stopped;
        try {
            runner.attr("run")();
        } catch (py::error_already_set& e) {
            stopped = {spdlog::level::err, "asyncio event loop stopped: " + detail::format_traceback(e)};
        }
        {
            std::lock_guard lock(mu);
            loop_finished = true;
            left = loop_abandoned;
        }
        loop_done.notify_all();
        if (left)
            drop_python_objects();
        py::gil_scoped_release released;
        stopped.write();
    }
    if (left)
        detail::python_thread_ended();
}

// Requires: GIL held. On an IO thread, runs the coroutine's first steps right here when the
// loop's thread is waiting (no hand-off: a request whose app awaits nothing real is answered
// on the thread that read it); else hands it to the loop's thread.
void executor::state::start_coroutine(const call_ptr& call, detail::awaitable_result started) {
    if (!runner)
        throw std::logic_error("the executor has no event loop");
    std::uint64_t id = 0;
    bool tell_left = false; // its client left before it started: told once it has
    {
        std::lock_guard lock(mu);
        id = next_coroutine_id++;
        coroutines.emplace(id, detail::coroutine_call{call});
        call->phase = detail::call_phase::awaiting;
        call->coroutine = id;
        tell_left = call->client_left; // from now on, cancel() tells an awaiting call itself
        if (tell_left)
            to_tell_left.push_back(id);
        // The monitor now pings the loop and owns the deadline.
        auto due = clock::now() + detail::loop_ping_interval;
        if (options.handler_timeout.count() > 0)
            due = std::min(due, call->started + options.handler_timeout);
        if (due < monitor_wakes_at)
            monitor_wake.notify_one();
    }
    // Only an IO thread steps it here: one of the executor's own threads that did would be held
    // by a coroutine that blocks (time.sleep in async def), and stopping joins those threads.
    bool ran = false;
    if (on_io_thread()) {
        try {
            auto id_arg = py::int_(id);
            std::array<PyObject*, 3> args{id_arg.ptr(), started.awaitable.ptr(),
                                          started.client_left.ptr()};
            auto result = py::reinterpret_steal<py::object>(
                PyObject_Vectorcall(runner_run_inline.ptr(), args.data(), args.size(), nullptr));
            if (!result)
                throw py::error_already_set();
            ran = result.ptr() == Py_True;
        } catch (...) {
            // Interrupted (its timeout's TimeoutError) before or while its task started: a
            // task that did start finds its entry gone when it ends.
            std::lock_guard lock(mu);
            coroutines.erase(id);
            throw;
        }
    }
    if (ran) {
        if (tell_left) // the loop tells its task, which exists now
            wake_loop();
        return;
    }
    {
        std::lock_guard lock(mu);
        to_start.push_back({id, std::move(started.awaitable), std::move(started.client_left)});
    }
    wake_loop();
}

// Requires: GIL held; on the loop's thread (the task's done-callback).
void executor::state::coroutine_finished(std::uint64_t id, py::handle task) {
    call_ptr call;
    bool answered = false; // by the monitor, whose answer may not have reached its caller yet
    {
        std::lock_guard lock(mu);
        auto it = coroutines.find(id);
        if (it == coroutines.end())
            return;
        call = std::move(it->second.call);
        answered = it->second.cancel_sent;
        coroutines.erase(it);
        call->phase = detail::call_phase::finished;
    }
    // Answered by the coroutine itself while it ran on (an ASGI application's first body):
    // its end is no news.
    if (call->completed && !answered) {
        coroutines_done.notify_all();
        return;
    }
    outcome result = coroutine_outcome(*call, task, answered || call->completed);
    {
        py::gil_scoped_release released; // completions and logging never with the GIL held
        if (auto* late = std::get_if<failure>(&result); late && answered)
            late->log.write(); // the monitor's 504 (or the caller's cancellation) stands
        else // posted: this may be a thread that took the loop's turn inside its own call
            deliver(*call, std::move(result), /*immediate=*/true);
    }
    coroutines_done.notify_all();
}

// Requires: GIL held.
outcome executor::state::coroutine_outcome(python_call& call, py::handle task, bool answered) {
    // Answered already (its deadline, its caller's cancellation, shutdown): only how it ended is
    // news, unless it ended by the cancellation that followed.
    auto late = [&](const std::string& how) {
        failure f(call_error::timed_out);
        if (!how.empty())
            f.log = {spdlog::level::warn, call.describe() + ": coroutine " + how +
                                              " after its call was answered (it ignored "
                                              "cancellation or blocked the event loop)"};
        return f;
    };
    try {
        py::object result = task.attr("result")();
        if (answered)
            return late("returned");
        return call.resume(result);
    } catch (py::error_already_set& e) {
        if (answered)
            return late(e.matches(py::module_::import("asyncio").attr("CancelledError"))
                            ? std::string()
                            : "raised " + detail::describe(e));
        return handler_failed(call, "coroutine raised:\n" + detail::format_traceback(e));
    } catch (const std::exception& e) {
        if (answered)
            return late("returned a bad result");
        return handler_failed(call, e.what());
    }
}

// Requires: GIL held; on the loop's thread, woken through the eventfd. Answers the monitor's
// ping and hands over what to do: (stop?, [(id, awaitable, client_left) to start], [ids to
// cancel], [ids whose client has closed]).
py::tuple executor::state::loop_woken() {
    std::vector<detail::coroutine_start> starts;
    std::vector<std::uint64_t> cancels;
    std::vector<std::uint64_t> left;
    bool stop = false;
    {
        std::lock_guard lock(mu);
        last_ack = clock::now();
        if (ping_outstanding) {
            ping_outstanding = false;
            if (stalled_by) {
                stall_lasted = last_ack - ping_sent;
                monitor_wake.notify_one(); // to log that the stall is over
            }
        }
        starts.swap(to_start);
        // Only calls still here: one whose task has finished meanwhile has nothing to be told.
        const auto still_here = [&](std::vector<std::uint64_t>& ids,
                                    std::vector<std::uint64_t>& out) {
            for (auto id : std::exchange(ids, {}))
                if (coroutines.contains(id))
                    out.push_back(id);
        };
        still_here(to_cancel, cancels);
        still_here(to_tell_left, left);
        stop = loop_stop_requested;
    }
    py::list start_list;
    for (auto& s : starts)
        start_list.append(py::make_tuple(s.id, std::move(s.awaitable), std::move(s.client_left)));
    const auto as_list = [](const std::vector<std::uint64_t>& ids) {
        py::list list;
        for (auto id : ids)
            list.append(id);
        return list;
    };
    return py::make_tuple(stop, start_list, as_list(cancels), as_list(left));
}

void executor::state::wake_loop() const noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto ignored = ::write(wake_fd, &one, sizeof one); // full only if never read
}

// Requires: mu held. Whose coroutine step is running on the loop.
std::string executor::state::loop_culprit() const {
    auto it = coroutines.find(stepping.load(std::memory_order_relaxed));
    if (it == coroutines.end())
        return "the asyncio event loop (outside any handler's coroutine)";
    return it->second.call->describe();
}

// Requires: mu held. The monitor's part for coroutines: answers those past their deadline or
// cancelled by their caller (collected in `overdue`, their tasks queued for cancelling), pings
// the loop while coroutines run and notes when it is blocked and when it runs again.
void executor::state::watch_coroutines(clock::time_point now, std::vector<detail::overdue_call>& overdue,
                                       std::optional<clock::time_point>& wake_at, bool& wake,
                                       std::vector<std::string>& notes) {
    auto wake_by = [&](clock::time_point t) { wake_at = std::min(wake_at.value_or(t), t); };
    if (stall_lasted) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*stall_lasted);
        notes.push_back(*stalled_by + ": the asyncio event loop runs again, after being blocked for " +
                        std::to_string(ms.count()) + " ms or more");
        stall_lasted.reset();
        stalled_by.reset();
    }
    const auto timeout = options.handler_timeout;
    for (auto& [id, c] : coroutines) {
        // Answered by the monitor already, or by the coroutine itself (an ASGI application
        // that has sent its response and runs on: streaming, background tasks).
        if (c.cancel_sent || c.call->completed)
            continue;
        const bool cancelled = c.call->cancel_requested;
        const auto deadline = c.call->started + timeout;
        if (cancelled || (timeout.count() > 0 && deadline <= now)) {
            c.cancel_sent = true;
            to_cancel.push_back(id);
            overdue.push_back({nullptr, c.call,
                               cancelled ? boost::system::error_code(net::error::operation_aborted)
                                         : make_error_code(call_error::timed_out)});
        } else if (timeout.count() > 0) {
            wake_by(deadline);
        }
    }
    wake = wake || !to_cancel.empty();
    if (coroutines.empty())
        return;
    if (!ping_outstanding) {
        if (now - last_ack >= detail::loop_ping_interval) {
            ping_outstanding = true;
            ping_sent = now;
            wake = true;
            wake_by(now + detail::loop_blocked_after);
        } else {
            wake_by(last_ack + detail::loop_ping_interval);
        }
    } else if (!stalled_by) {
        if (now - ping_sent >= detail::loop_blocked_after) {
            stalled_by = loop_culprit();
            notes.push_back(*stalled_by + ": blocking the asyncio event loop for over " +
                            std::to_string(detail::loop_blocked_after.count()) +
                            " ms (a blocking call in async def: time.sleep, blocking I/O or long "
                            "CPU work?); no other coroutine runs meanwhile");
        } else {
            wake_by(ping_sent + detail::loop_blocked_after);
        }
    }
}

// Gives coroutines not answered yet until the monitor answers them at their deadline (at most
// the drain time, 10 s), then answers the rest as stopped; all are cancelled with the loop.
void executor::state::abandon_coroutines() {
    std::unique_lock lock(mu);
    auto answered = [&] {
        return std::all_of(coroutines.begin(), coroutines.end(),
                           [](const auto& c) { return c.second.call->completed.load(); });
    };
    coroutines_done.wait_for(lock, std::chrono::seconds(10), answered);
    std::vector<call_ptr> left;
    for (auto& [id, c] : coroutines) {
        if (!c.call->completed)
            left.push_back(c.call);
    }
    lock.unlock();
    for (const auto& call : left) {
        spdlog::warn("{}: coroutine still running at shutdown; answering 503", call->describe());
        fail(*call, call_error::stopped);
    }
}

// Drops the coroutines of a loop left running (all answered by now), so that when it comes back
// their calls are not touched: whoever made them may be gone.
void executor::state::forget_coroutines() {
    std::map<std::uint64_t, detail::coroutine_call> forgotten;
    std::lock_guard lock(mu);
    forgotten.swap(coroutines);
}

// Requires: GIL not held. Asks the loop to cancel its tasks and stop, and waits a bounded time
// for its thread. True when it came back (and was joined); false when a handler keeps it blocked:
// it is then left running, counted so that Python is not finalised under it.
bool executor::state::stop_event_loop() {
    if (!loop_thread.joinable())
        return true;
    std::unique_lock lock(mu);
    loop_stop_requested = true;
    wake_loop();
    if (!loop_done.wait_for(lock, detail::loop_stop_timeout, [&] { return loop_finished; })) {
        loop_abandoned = true;
        detail::python_thread_left(); // before the thread can see `loop_abandoned`
        lock.unlock();
        loop_thread.detach();
        spdlog::warn("the asyncio event loop did not stop within {} ms (a handler is blocking it); "
                     "leaving its thread running",
                     detail::loop_stop_timeout.count());
        return false;
    }
    lock.unlock();
    loop_thread.join();
    return true;
}

// Takes the GIL to drop every Python reference the executor holds.
void executor::state::drop_python_objects() noexcept {
    py::gil_scoped_acquire gil; // re-entrant: the loop's thread calls this holding it
    std::vector<detail::coroutine_start> never_started;
    {
        std::lock_guard lock(mu);
        never_started.swap(to_start);
    }
    never_started.clear();
    detail::close_all_streams(*this);
    kept.clear();
    runner_run_inline = py::object();
    runner = py::object();
}

executor::state::~state() {
    if (wake_fd >= 0)
        ::close(wake_fd);
}

} // namespace httpy
