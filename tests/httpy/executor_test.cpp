#include "httpy/app.hpp"
#include "httpy/call_error.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
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
