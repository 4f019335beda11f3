#include <pybind11/embed.h>

#include "httpy/app.hpp"
#include "httpy/call_error.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <doctest/doctest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

httpy::app make_app(std::string function, httpy::executor_options options = {}) {
    return httpy::app({.handler = {HTTPY_TEST_DATA "/handlers.py", std::move(function)},
                       .python = options});
}

httpy::request get(std::string path, httpy::fields query = {}) {
    return {"GET", std::move(path), {}, std::move(query), {}, ""};
}

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

// Submits `count` identical calls and returns their results in completion order.
std::vector<httpy::call_result> call_many(httpy::app& a, int count, const httpy::request& req) {
    std::vector<std::future<httpy::call_result>> futures;
    for (int i = 0; i < count; ++i) {
        auto promise = std::make_shared<std::promise<httpy::call_result>>();
        futures.push_back(promise->get_future());
        a.async_request(req, [promise](httpy::call_result r) { promise->set_value(std::move(r)); });
    }
    std::vector<httpy::call_result> results;
    for (auto& f : futures)
        results.push_back(f.get());
    return results;
}

} // namespace

TEST_CASE("a completion runs on the caller's io_context thread") {
    auto a = make_app("echo");
    net::io_context ioc;
    std::thread::id completed_on;
    httpy::response got;
    a.async_request(httpy::request{"POST", "/y", {}, {}, {}, "on ioc"},
                    net::bind_executor(ioc, [&](httpy::call_result r) {
                        CHECK_FALSE(r.error);
                        completed_on = std::this_thread::get_id();
                        got = std::move(r.resp);
                    }));
    ioc.run(); // the pending call counts as work: run() waits for the completion
    CHECK(completed_on == std::this_thread::get_id());
    CHECK(got.status == 200);
    CHECK(got.body == "on ioc");
    CHECK(got.headers.find("X-Path")->front() == "/y");
}

TEST_CASE("use_future delivers the handler's response") {
    auto a = make_app("echo");
    auto future = a.async_request(httpy::request{"PUT", "/f", {}, {}, {}, "fut"}, net::use_future);
    CHECK(future.get().resp.body == "fut");
}

TEST_CASE("use_awaitable delivers the handler's response") {
    auto a = make_app("echo");
    net::io_context ioc;
    std::string body;
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            // A named request: g++ 12 mis-copies aggregate temporaries inside co_await.
            httpy::request req{"GET", "/a", {}, {}, {}, "await"};
            auto r = co_await a.async_request(std::move(req), net::use_awaitable);
            body = r.resp.body;
        },
        net::detached);
    ioc.run();
    CHECK(body == "await");
}

TEST_CASE("eight blocking handlers on eight threads overlap instead of queueing") {
    auto a = make_app("sleepy", {.threads = 8});
    const auto start = clock_type::now();
    auto results = call_many(a, 8, get("/", {{"seconds", {"1"}}}));
    const double elapsed = seconds_since(start);
    for (auto& r : results)
        CHECK(r.resp.status == 200);
    CHECK(elapsed >= 1.0);
    CHECK(elapsed < 2.0); // serialised, they would take 8 s
}

TEST_CASE("a hundred async handlers awaiting one second finish together") {
    auto a = make_app("async_sleepy", {.threads = 2});
    const auto start = clock_type::now();
    auto results = call_many(a, 100, get("/", {{"seconds", {"1"}}}));
    const double elapsed = seconds_since(start);
    for (auto& r : results) {
        CHECK_FALSE(r.error);
        CHECK(r.resp.body == "awaited");
    }
    CHECK(elapsed < 3.0);
}

TEST_CASE("a full queue answers 503 with Retry-After at once") {
    auto a = make_app("sleepy", {.threads = 1, .queue_limit = 2});
    const auto start = clock_type::now();
    auto running = a.async_request(get("/", {{"seconds", {"0.5"}}}), net::use_future);
    std::this_thread::sleep_for(200ms); // the first call now holds the only thread
    auto results = call_many(a, 5, get("/", {{"seconds", {"0.1"}}}));
    CHECK(running.get().resp.status == 200);
    int ok = 0, overloaded = 0;
    for (auto& r : results) {
        if (r.error == httpy::call_error::overloaded) {
            ++overloaded;
            CHECK(r.resp.status == 503);
            CHECK(r.resp.headers.contains("Retry-After"));
        } else {
            CHECK(r.resp.status == 200);
            ++ok;
        }
    }
    CHECK(ok == 2); // two queued behind the running one
    CHECK(overloaded == 3);
    CHECK(seconds_since(start) < 2.0);
    // Load gone: the executor serves again.
    CHECK(a.call(get("/", {{"seconds", {"0"}}})).resp.status == 200);
}

TEST_CASE("a handler past its timeout answers 504 and gets TimeoutError raised inside it") {
    auto a = make_app("spin_or_count", {.threads = 2, .handler_timeout = 200ms});
    const auto start = clock_type::now();
    auto r = a.call(get("/spin"));
    CHECK(r.error == httpy::call_error::timed_out);
    CHECK(r.resp.status == 504);
    CHECK(seconds_since(start) < 2.0);
    // The spinning handler really was interrupted, and the executor keeps serving meanwhile.
    std::string interrupted;
    for (int i = 0; i < 200 && interrupted != "1"; ++i) {
        auto count = a.call(get("/count"));
        REQUIRE(count.resp.status == 200);
        interrupted = count.resp.body;
        std::this_thread::sleep_for(10ms);
    }
    CHECK(interrupted == "1");
}

TEST_CASE("a handler that raises answers 500 and the executor keeps serving") {
    for (const char* name : {"raises", "system_exit", "keyboard_interrupt", "wrong_shape"}) {
        CAPTURE(name);
        auto a = make_app(name);
        auto r = a.call(get("/"));
        CHECK(r.error == httpy::call_error::handler_failed);
        CHECK(r.resp.status == 500);
        CHECK(r.resp.body.find("Traceback") == std::string::npos); // never sent to the client
        CHECK(a.call(get("/")).resp.status == 500);                // and it still answers
    }
}

TEST_CASE("async handlers that raise or run too long answer 500 and 504") {
    auto failing = make_app("async_raises");
    CHECK(failing.call(get("/")).resp.status == 500);
    auto forever = make_app("async_forever", {.handler_timeout = 200ms});
    auto r = forever.call(get("/"));
    CHECK(r.error == httpy::call_error::timed_out);
    CHECK(r.resp.status == 504);
}

// The monitor answers 504 and has the loop cancel the task; the task may end (by that
// CancelledError) before the monitor's answer is delivered, its end then only logged. Slow
// completions (run inline on the monitor's thread, the system executor's) make that likely.
TEST_CASE("coroutines answered at their timeout all get 504, never the cancellation's 500") {
    auto forever = make_app("async_forever", {.handler_timeout = 100ms});
    constexpr int calls = 100;
    std::vector<std::future<httpy::call_result>> futures;
    for (int i = 0; i < calls; ++i) {
        auto promise = std::make_shared<std::promise<httpy::call_result>>();
        futures.push_back(promise->get_future());
        forever.async_request(get("/"), [promise](httpy::call_result r) {
            std::this_thread::sleep_for(5ms);
            promise->set_value(std::move(r));
        });
    }
    for (auto& f : futures) {
        auto r = f.get();
        CHECK(r.error == httpy::call_error::timed_out);
        CHECK(r.resp.status == 504);
    }
}

TEST_CASE("a thread started by the handler module keeps running between requests") {
    auto a = make_app("read_ticks");
    const int before = std::stoi(a.call(get("/")).resp.body);
    std::this_thread::sleep_for(300ms); // no request meanwhile: nothing holds the GIL
    const int after = std::stoi(a.call(get("/")).resp.body);
    CHECK(after - before >= 10);
}

TEST_CASE("calls after stop answer 503 without running") {
    auto a = make_app("echo");
    a.python().stop();
    auto r = a.call(get("/"));
    CHECK(r.error == httpy::call_error::stopped);
    CHECK(r.resp.status == 503);
}

TEST_CASE("an awaitable that is not a coroutine is awaited, with or without a timeout") {
    for (auto timeout : {0ms, 5000ms}) {
        auto a = make_app("returns_awaitable", {.handler_timeout = timeout});
        auto r = a.call(get("/"));
        CHECK_FALSE(r.error);
        CHECK(r.resp.body == "awaited object");
    }
}

TEST_CASE("a coroutine's own TimeoutError is a handler failure, not a timeout") {
    auto a = make_app("async_own_timeout", {.handler_timeout = 5000ms});
    auto r = a.call(get("/"));
    CHECK(r.error == httpy::call_error::handler_failed);
    CHECK(r.resp.status == 500);
}

namespace {

// An io_context run by one thread that is an IO thread of `a`'s executor.
struct io_thread_fixture {
    explicit io_thread_fixture(httpy::app& a) : a_(&a) {
        thread = std::thread([&] {
            httpy::executor::io_thread attached(a.python(), ioc.get_executor());
            ready.set_value(static_cast<unsigned long>(pthread_self()));
            ioc.run();
        });
        python_ident = ready.get_future().get();
    }
    ~io_thread_fixture() {
        guard.reset();
        thread.join();
    }

    // Submits from the IO thread itself, as a server session does.
    httpy::call_result call(httpy::request req) {
        std::promise<httpy::call_result> done;
        net::post(ioc, [&] {
            a_->async_request(std::move(req),
                              [&](httpy::call_result r) { done.set_value(std::move(r)); });
        });
        return done.get_future().get();
    }

    httpy::app* a_ = nullptr;
    net::io_context ioc;
    net::executor_work_guard<net::io_context::executor_type> guard = net::make_work_guard(ioc);
    std::promise<unsigned long> ready;
    std::thread thread;
    unsigned long python_ident = 0;
};

} // namespace

TEST_CASE("calls submitted from an IO thread run on that thread") {
    auto a = make_app("thread_ident");
    io_thread_fixture io(a);
    for (int i = 0; i < 3; ++i)
        CHECK(io.call(get("/")).resp.body == std::to_string(io.python_ident));
    // Right after its own call the IO thread still takes queued calls (run_inline); once a
    // handler posted behind that call has run, it is back in its io_context and takes none.
    std::promise<void> idle;
    net::post(io.ioc, [&] { idle.set_value(); });
    idle.get_future().wait();
    // From any other thread, the executor's own threads run it.
    CHECK(a.call(get("/")).resp.body != std::to_string(io.python_ident));
}

TEST_CASE("a call that blocks an IO thread is reported, and the count returns to zero") {
    auto a = make_app("thread_ident", {.blocked_after = 1000us});
    std::atomic<int> reports{0};
    a.python().on_io_thread_blocked([&] { ++reports; });
    io_thread_fixture io(a);
    std::atomic<std::size_t> seen_blocked{0};
    std::thread watcher([&] {
        for (int i = 0; i < 100 && seen_blocked == 0; ++i) {
            seen_blocked = a.python().blocked_io_threads();
            std::this_thread::sleep_for(5ms);
        }
    });
    CHECK(io.call(get("/", {{"seconds", {"0.3"}}})).resp.status == 200);
    watcher.join();
    CHECK(reports == 1);
    CHECK(seen_blocked == 1);
    CHECK(a.python().blocked_io_threads() == 0);
    a.python().on_io_thread_blocked(nullptr);
}

TEST_CASE("an executor with finished coroutines shuts down at once") {
    auto a = std::make_unique<httpy::app>(
        httpy::app_options{.handler = {HTTPY_TEST_DATA "/handlers.py", "async_sleepy"}});
    auto results = call_many(*a, 500, get("/", {{"seconds", {"0"}}}));
    for (auto& r : results)
        CHECK(r.resp.body == "awaited");
    const auto start = clock_type::now();
    a.reset(); // would wait its 10 s drain time if a finished call were still counted as running
    CHECK(seconds_since(start) < 5.0);
}

namespace {

// Every log line the executor writes while installed, and how many were written by a thread
// holding the GIL.
class recording_sink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    std::vector<std::string> lines() {
        std::lock_guard lock(mu_);
        return lines_;
    }
    int written_with_gil() {
        std::lock_guard lock(mu_);
        return with_gil_;
    }
    bool has(const std::string& a, const std::string& b = {}) {
        auto all = lines();
        return std::any_of(all.begin(), all.end(), [&](const std::string& line) {
            return line.find(a) != std::string::npos && line.find(b) != std::string::npos;
        });
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        std::lock_guard lock(mu_);
        lines_.emplace_back(msg.payload.data(), msg.payload.size());
        if (PyGILState_Check())
            ++with_gil_;
    }
    void flush_() override {}

private:
    std::mutex mu_;
    std::vector<std::string> lines_;
    int with_gil_ = 0;
};

// Sends the default logger to a fresh recording sink for the scope's life. Loggers are never
// destroyed: a thread may still be writing to one just after it was replaced.
class captured_log {
public:
    captured_log() : saved_(spdlog::default_logger()) {
        auto logger = std::make_shared<spdlog::logger>("captured", sink_);
        logger->set_level(spdlog::level::debug);
        kept().push_back(logger);
        spdlog::set_default_logger(logger);
    }
    ~captured_log() { spdlog::set_default_logger(saved_); }
    captured_log(const captured_log&) = delete;
    captured_log& operator=(const captured_log&) = delete;

    recording_sink& sink() { return *sink_; }

private:
    static std::vector<std::shared_ptr<spdlog::logger>>& kept() {
        static auto* loggers = new std::vector<std::shared_ptr<spdlog::logger>>;
        return *loggers;
    }

    std::shared_ptr<recording_sink> sink_ = std::make_shared<recording_sink>();
    std::shared_ptr<spdlog::logger> saved_;
};

// Sets Python's thread switch interval for the scope's life.
class py_switch_interval {
public:
    explicit py_switch_interval(double seconds) {
        pybind11::gil_scoped_acquire gil;
        auto sys = pybind11::module_::import("sys");
        saved_ = sys.attr("getswitchinterval")().cast<double>();
        sys.attr("setswitchinterval")(seconds);
    }
    ~py_switch_interval() {
        pybind11::gil_scoped_acquire gil;
        pybind11::module_::import("sys").attr("setswitchinterval")(saved_);
    }
    py_switch_interval(const py_switch_interval&) = delete;
    py_switch_interval& operator=(const py_switch_interval&) = delete;

private:
    double saved_ = 0.005;
};

// A module-level int of handlers.py, read directly (the app may take no calls any more).
long handlers_global(const char* name) {
    pybind11::gil_scoped_acquire gil;
    return pybind11::module_::import("sys").attr("modules")["handlers"].attr(name).cast<long>();
}

// Calls `a` through a callback and returns the future result, errors included.
std::future<httpy::call_result> call_async(httpy::app& a, httpy::request req) {
    auto promise = std::make_shared<std::promise<httpy::call_result>>();
    auto future = promise->get_future();
    a.async_request(std::move(req),
                    [promise](httpy::call_result r) { promise->set_value(std::move(r)); });
    return future;
}

// A completion that hands its result to `done`.
auto fulfil(std::promise<httpy::call_result>& done) {
    return [&done](httpy::call_result r) { done.set_value(std::move(r)); };
}

// Waits for `future` at most `limit`; false when it did not come.
template <class T>
bool arrives_within(std::future<T>& future, std::chrono::milliseconds limit) {
    return future.wait_for(limit) == std::future_status::ready;
}


// Makes `req` with a cancellation slot bound, emits `type` on it 200 ms later, and returns the
// call's result and the seconds until its completion ran.
std::pair<httpy::call_result, double> cancelled_after_200ms(httpy::app& a, httpy::request req,
                                                            net::cancellation_type type) {
    net::io_context ioc;
    net::cancellation_signal cancel;
    std::promise<httpy::call_result> done;
    auto result = done.get_future();
    net::steady_timer timer(ioc, 200ms);
    net::post(ioc, [&] {
        a.async_request(std::move(req), net::bind_cancellation_slot(
                                            cancel.slot(), net::bind_executor(ioc, fulfil(done))));
        timer.async_wait([&](boost::system::error_code) { cancel.emit(type); });
    });
    const auto start = clock_type::now();
    ioc.run();
    REQUIRE(arrives_within(result, 2s));
    return {result.get(), seconds_since(start)};
}

// The body of `/active` once it is "0" (or after a second of asking): how many calls of an
// async_waits-like handler are still awaiting.
std::string active_once_settled(httpy::app& a) {
    std::string active;
    for (int i = 0; i < 100 && active != "0"; ++i, std::this_thread::sleep_for(10ms))
        active = a.call(get("/active")).resp.body;
    return active;
}

} // namespace

TEST_CASE("a blocking call from a handler on an IO thread runs there instead of deadlocking") {
    auto a = make_app("thread_ident");
    // On the heap and left behind if the call deadlocks: its thread could never be joined.
    auto* io = new io_thread_fixture(a);
    std::promise<httpy::call_result> done;
    auto result = done.get_future();
    net::post(io->ioc, [&] { done.set_value(a.call(get("/"))); });
    const bool arrived = arrives_within(result, 5s);
    REQUIRE_MESSAGE(arrived, "app::call on an IO thread waited for itself");
    const auto r = result.get();
    CHECK(r.resp.status == 200);
    CHECK(r.resp.body == std::to_string(io->python_ident)); // in place, on that thread
    delete io;
}

TEST_CASE("calls submitted from an IO thread after stop answer 503 without running") {
    auto a = make_app("counted");
    io_thread_fixture io(a);
    CHECK(io.call(get("/")).resp.status == 200);
    a.python().stop();
    auto r = io.call(get("/"));
    CHECK(r.error == httpy::call_error::stopped);
    CHECK(r.resp.status == 503);
    CHECK(handlers_global("counted_calls") == 1); // only the first one ran
}

TEST_CASE("no log line is written while the GIL is held") {
    captured_log log;
    {
        auto raising = make_app("raises");
        CHECK(raising.call(get("/")).resp.status == 500);
        auto async_raising = make_app("async_raises");
        CHECK(async_raising.call(get("/")).resp.status == 500);
        auto spinning = make_app("spin_or_count", {.threads = 1, .handler_timeout = 100ms});
        CHECK(spinning.call(get("/spin")).resp.status == 504);
        CHECK(spinning.call(get("/count")).resp.status == 200); // after the spin ended
        auto forever = make_app("async_forever", {.handler_timeout = 100ms});
        CHECK(forever.call(get("/")).resp.status == 504);
    }
    const auto lines = log.sink().lines();
    INFO("lines: " << lines.size());
    CHECK(lines.size() >= 4);
    CHECK(log.sink().has("handler raised"));
    CHECK(log.sink().has("coroutine raised"));
    CHECK(log.sink().has("timed out"));
    CHECK(log.sink().written_with_gil() == 0);
}

TEST_CASE("an async handler blocking its event loop answers 504 at its timeout and is logged") {
    captured_log log;
    auto a = make_app("async_blocks_loop", {.handler_timeout = 1000ms});
    const auto start = clock_type::now();
    auto future = call_async(a, get("/blocking", {{"seconds", {"2"}}}));
    REQUIRE(arrives_within(future, 5s));
    const double elapsed = seconds_since(start);
    const auto r = future.get();
    CHECK(r.error == httpy::call_error::timed_out);
    CHECK(r.resp.status == 504);
    CHECK(elapsed >= 0.9);
    CHECK(elapsed < 1.5); // not when the sleep ends (2 s)
    CHECK(log.sink().has("async_blocks_loop GET /blocking", "blocking the asyncio event loop"));
    // Once the sleep is over the loop runs again, and says so.
    for (int i = 0; i < 300 && !log.sink().has("runs again"); ++i)
        std::this_thread::sleep_for(10ms);
    CHECK(log.sink().has("async_blocks_loop GET /blocking", "runs again"));
}

TEST_CASE("a coroutine that ignores cancellation answers 504 at its timeout and shuts down") {
    auto a = std::make_unique<httpy::app>(httpy::app_options{
        .handler = {HTTPY_TEST_DATA "/handlers.py", "async_ignores_cancel"},
        .python = {.handler_timeout = 1000ms}});
    const auto start = clock_type::now();
    auto future = call_async(*a, get("/"));
    const bool arrived = arrives_within(future, 5s);
    REQUIRE_MESSAGE(arrived, "a coroutine ignoring its cancellation was never answered");
    const double elapsed = seconds_since(start);
    CHECK(future.get().resp.status == 504);
    CHECK(elapsed >= 0.9);
    CHECK(elapsed < 1.5);
    const auto stopping = clock_type::now();
    a.reset(); // the coroutine still runs, swallowing every CancelledError
    CHECK(seconds_since(stopping) < 2.0);
}

TEST_CASE("an executor whose event loop a handler keeps blocked is destroyed in bounded time") {
    auto a = std::make_unique<httpy::app>(httpy::app_options{
        .handler = {HTTPY_TEST_DATA "/handlers.py", "async_blocks_loop"},
        .python = {.handler_timeout = 500ms}});
    auto future = call_async(*a, get("/", {{"seconds", {"6"}}}));
    REQUIRE(arrives_within(future, 3s));
    CHECK(future.get().resp.status == 504);
    const auto stopping = clock_type::now();
    a.reset(); // the loop is in time.sleep for 5 s more: left running, not joined
    CHECK(seconds_since(stopping) < 3.0);
}

TEST_CASE("the first async calls from many threads at once share one event loop") {
    py_switch_interval fast(1e-6); // the GIL changes hands at nearly every bytecode
    for (int round = 0; round < 10; ++round) { // a fresh executor, and first calls, each time
        auto a = make_app("async_sleepy", {.threads = 8, .blocked_after = 10us});
        auto results = call_many(a, 64, get("/", {{"seconds", {"0"}}}));
        for (auto& r : results)
            CHECK(r.resp.body == "awaited");
    }
}

TEST_CASE("cancelling a queued call completes it at once and it never runs") {
    auto a = make_app("counted", {.threads = 1});
    auto busy = a.async_request(get("/sleep", {{"seconds", {"0.5"}}}), net::use_future);
    std::this_thread::sleep_for(100ms); // the only thread is asleep
    net::io_context ioc;
    net::cancellation_signal cancel;
    std::promise<httpy::call_result> done;
    auto result = done.get_future();
    clock_type::time_point emitted;
    net::post(ioc, [&] {
        a.async_request(get("/counted"),
                        net::bind_cancellation_slot(
                            cancel.slot(), net::bind_executor(ioc, fulfil(done))));
        emitted = clock_type::now();
        cancel.emit(net::cancellation_type::terminal);
    });
    ioc.run();
    REQUIRE(arrives_within(result, 1s));
    const auto r = result.get();
    CHECK(r.error == net::error::operation_aborted);
    CHECK(r.resp.status == 503);
    CHECK(seconds_since(emitted) < 0.3); // not after the sleeping call
    CHECK(busy.get().resp.status == 200);
    CHECK(a.call(get("/count")).resp.body == "0");
}

TEST_CASE("a running call raced against a timer with || is cancelled within half a second") {
    using namespace net::experimental::awaitable_operators;
    auto a = make_app("sleepy", {.threads = 2});
    net::io_context ioc;
    std::size_t winner = 0;
    double elapsed = 0;
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            net::steady_timer timer(co_await net::this_coro::executor, 200ms);
            httpy::request req = get("/", {{"seconds", {"3"}}});
            const auto start = clock_type::now();
            auto first = co_await (a.async_request(std::move(req), net::use_awaitable) ||
                                   timer.async_wait(net::as_tuple(net::use_awaitable)));
            elapsed = seconds_since(start);
            winner = first.index();
        },
        net::detached);
    ioc.run(); // `||` waits for the cancelled call to complete
    CHECK(winner == 1); // the timer
    CHECK(elapsed < 0.5);
    // The other thread serves meanwhile (time.sleep itself cannot be interrupted: TimeoutError
    // lands in the handler when it returns).
    const auto start = clock_type::now();
    CHECK(a.call(get("/", {{"seconds", {"0"}}})).resp.status == 200);
    CHECK(seconds_since(start) < 0.5);
}

TEST_CASE("cancelling a running call interrupts it like its timeout and frees its thread") {
    auto a = make_app("spin_or_count", {.threads = 1});
    const auto [r, seconds] = cancelled_after_200ms(a, get("/spin"), net::cancellation_type::partial);
    CHECK(r.error == net::error::operation_aborted);
    CHECK(r.resp.status == 503);
    CHECK(seconds < 0.5);
    // TimeoutError ended the spin: the only thread answers the next call.
    auto count = a.async_request(get("/count"), net::use_future);
    REQUIRE(arrives_within(count, 2s));
    CHECK(count.get().resp.body == "1");
}

TEST_CASE("cancelling a coroutine through its slot answers 503 at once and cancels its task") {
    auto a = make_app("async_waits");
    const auto [r, seconds] = cancelled_after_200ms(a, get("/"), net::cancellation_type::terminal);
    CHECK(r.error == net::error::operation_aborted);
    CHECK(r.resp.status == 503);
    CHECK(seconds < 0.5);
    // The task was cancelled: no coroutine is left on the loop.
    CHECK(active_once_settled(a) == "0");
}

TEST_CASE("total cancellation (the client closed) cancels nothing: calls run on to their answer") {
    auto a = make_app("async_sleepy");
    const auto [r, seconds] = cancelled_after_200ms(a, get("/", {{"seconds", {"0.5"}}}),
                                                    net::cancellation_type::total);
    CHECK(!r.error);
    CHECK(r.resp.status == 200);
    CHECK(seconds >= 0.4);
    auto b = make_app("sleepy", {.threads = 1});
    auto busy = call_async(b, get("/", {{"seconds", {"0.5"}}}));
    // Queued behind `busy` when cancelled: a client that only shut down its sending side still
    // reads the answer, so total cancellation never drops a call either.
    const auto [waited, after] = cancelled_after_200ms(b, get("/", {{"seconds", {"0.2"}}}),
                                                       net::cancellation_type::total);
    CHECK(!waited.error);
    CHECK(waited.resp.status == 200);
    CHECK(after >= 0.6);
    CHECK(busy.get().resp.status == 200);
}

TEST_CASE("a coroutine answered before the blocked loop could start it never runs") {
    auto a = make_app("async_by_path", {.handler_timeout = 300ms});
    auto blocking = call_async(a, get("/block", {{"seconds", {"1"}}}));
    std::this_thread::sleep_for(50ms); // the loop is in time.sleep now
    auto waiting = call_async(a, get("/wait")); // its start waits behind the sleep
    REQUIRE(arrives_within(blocking, 2s));
    REQUIRE(arrives_within(waiting, 2s));
    CHECK(waiting.get().resp.status == 504);
    std::this_thread::sleep_for(1200ms); // the loop runs again, and gets to start it
    CHECK(a.call(get("/active")).resp.body == "0");
}

TEST_CASE("use_future gives 500, 503 and 504 as a call_result, never an exception") {
    auto raising = make_app("raises");
    auto failed = raising.async_request(get("/"), net::use_future);
    httpy::call_result r;
    REQUIRE_NOTHROW(r = failed.get());
    CHECK(r.error == httpy::call_error::handler_failed);
    CHECK(r.resp.status == 500);

    auto spinning = make_app("spin_or_count", {.threads = 1, .handler_timeout = 200ms});
    auto timed_out = spinning.async_request(get("/spin"), net::use_future);
    REQUIRE_NOTHROW(r = timed_out.get());
    CHECK(r.error == httpy::call_error::timed_out);
    CHECK(r.resp.status == 504);

    auto stopped = make_app("echo");
    stopped.python().stop();
    auto refused = stopped.async_request(get("/"), net::use_future);
    REQUIRE_NOTHROW(r = refused.get());
    CHECK(r.error == httpy::call_error::stopped);
    CHECK(r.resp.status == 503);
    CHECK(r.resp.headers.contains("Retry-After"));
}

TEST_CASE("use_awaitable yields a failed, overloaded or timed-out call's response") {
    auto raising = make_app("raises");
    auto busy = make_app("sleepy", {.threads = 1, .queue_limit = 1});
    auto spinning = make_app("spin_or_count", {.threads = 1, .handler_timeout = 200ms});
    auto sleeping = busy.async_request(get("/", {{"seconds", {"0.5"}}}), net::use_future);
    std::this_thread::sleep_for(100ms); // its only thread is asleep
    auto queued = busy.async_request(get("/", {{"seconds", {"0"}}}), net::use_future);
    net::io_context ioc;
    std::vector<httpy::call_result> got;
    bool threw = false;
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            got.push_back(co_await raising.async_request(get("/"), net::use_awaitable));
            got.push_back(co_await busy.async_request(get("/"), net::use_awaitable));
            got.push_back(co_await spinning.async_request(get("/spin"), net::use_awaitable));
        },
        [&](std::exception_ptr e) { threw = e != nullptr; });
    ioc.run();
    CHECK_FALSE(threw);
    REQUIRE(got.size() == 3);
    CHECK(got[0].error == httpy::call_error::handler_failed);
    CHECK(got[0].resp.status == 500);
    CHECK(got[1].error == httpy::call_error::overloaded);
    CHECK(got[1].resp.status == 503);
    CHECK(got[2].error == httpy::call_error::timed_out);
    CHECK(got[2].resp.status == 504);
    CHECK(sleeping.get().resp.status == 200);
    CHECK(queued.get().resp.status == 200);
}

TEST_CASE("a call awaited with a bound cancellation slot yields operation_aborted and 503") {
    auto a = make_app("sleepy", {.threads = 2});
    net::io_context ioc;
    net::cancellation_signal cancel;
    httpy::call_result r;
    double elapsed = 0;
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            net::steady_timer timer(co_await net::this_coro::executor, 200ms);
            timer.async_wait([&](boost::system::error_code) {
                cancel.emit(net::cancellation_type::terminal);
            });
            httpy::request req = get("/", {{"seconds", {"1"}}}); // no braced fields in co_await
            const auto start = clock_type::now();
            auto token = net::bind_cancellation_slot(cancel.slot(), net::use_awaitable);
            r = co_await a.async_request(std::move(req), token);
            elapsed = seconds_since(start);
        },
        net::detached);
    ioc.run();
    CHECK(r.error == net::error::operation_aborted);
    CHECK(r.resp.status == 503);
    CHECK(elapsed < 0.5);
}
