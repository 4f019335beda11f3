#include "httpy/app.hpp"
#include "httpy/call_error.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <set>
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
        a.async_request(req, [promise](boost::system::error_code ec, httpy::response r) {
            promise->set_value({ec, std::move(r)});
        });
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
                    net::bind_executor(ioc, [&](boost::system::error_code ec, httpy::response r) {
                        CHECK_FALSE(ec);
                        completed_on = std::this_thread::get_id();
                        got = std::move(r);
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
    CHECK(future.get().body == "fut");
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
            body = r.body;
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
    CHECK(running.get().status == 200);
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
            a_->async_request(std::move(req), [&](boost::system::error_code ec, httpy::response r) {
                done.set_value({ec, std::move(r)});
            });
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
