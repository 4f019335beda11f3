#include "httpy/io_pool.hpp"

#include "httpy/app.hpp"
#include "httpy/executor.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include <unistd.h>

namespace net = boost::asio;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

httpy::app make_app(std::string function) {
    return httpy::app({.handler = {HTTPY_TEST_DATA "/handlers.py", std::move(function)}});
}

httpy::request get(std::string path, httpy::fields query = {}) {
    return {"GET", std::move(path), {}, std::move(query), {}, ""};
}

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

std::size_t threads_in_process() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task"))
        ++n;
    return n;
}

// An io_pool running on a thread of its own, stopped and joined at scope exit.
struct running_pool {
    running_pool(std::size_t threads, httpy::executor* python)
        : pool(ioc, threads, python), thread([this] {
              try {
                  pool.run();
              } catch (...) {
                  escaped = true;
              }
          }) {}
    ~running_pool() {
        guard.reset();
        ioc.stop();
        thread.join();
    }

    // Runs `f` on one of the pool's threads and waits for it (at most `limit`): the time it
    // took to start, or nullopt.
    template <class F>
    std::optional<double> run_native(F f, std::chrono::milliseconds limit = 5000ms) {
        auto done = std::make_shared<std::promise<double>>();
        auto future = done->get_future();
        const auto posted = clock_type::now();
        net::post(ioc, [done, posted, f]() mutable {
            const double waited = seconds_since(posted);
            f();
            done->set_value(waited);
        });
        if (future.wait_for(limit) != std::future_status::ready)
            return std::nullopt;
        return future.get();
    }

    net::io_context ioc;
    net::executor_work_guard<net::io_context::executor_type> guard = net::make_work_guard(ioc);
    httpy::io_pool pool;
    std::atomic<bool> escaped{false};
    std::thread thread;
};

// Submits a Python call from a pool thread (so it runs inline there, as a session's would).
std::future<int> python_call(running_pool& p, httpy::app& a, httpy::request req) {
    auto status = std::make_shared<std::promise<int>>();
    auto future = status->get_future();
    net::post(p.ioc, [&a, status, req = std::move(req)]() mutable {
        a.async_request(std::move(req), [status](boost::system::error_code, httpy::response r) {
            status->set_value(r.status);
        });
    });
    return future;
}

} // namespace

TEST_CASE("a native handler answers at once while a Python call holds the GIL on the only IO thread") {
    auto a = make_app("hold_gil");
    running_pool p(1, &a.python());
    REQUIRE(p.run_native([] {}).has_value()); // the pool runs
    // A first call, too short to block: whatever a first call costs is paid before the test.
    REQUIRE(python_call(p, a, get("/", {{"seconds", {"0"}}})).get() == 200);
    auto held = python_call(p, a, get("/", {{"seconds", {"1.5"}}}));
    std::this_thread::sleep_for(200ms); // the only IO thread is in usleep, holding the GIL
    const auto waited = p.run_native([] {});
    REQUIRE(waited.has_value());
    // A spare took over without waiting for the GIL (which comes back only after 1.5 s).
    CHECK(*waited < 0.3);
    CHECK(held.get() == 200);
}

TEST_CASE("spare IO threads are kept and reused across blocking calls, not started anew") {
    auto a = make_app("thread_ident");
    running_pool p(1, &a.python());
    REQUIRE(p.run_native([] {}).has_value());
    const std::size_t threads_before = threads_in_process();
    std::set<pid_t> spares;
    for (int episode = 0; episode < 20; ++episode) {
        auto blocked = python_call(p, a, get("/", {{"seconds", {"0.1"}}}));
        std::this_thread::sleep_for(30ms); // blocked past blocked_after: a spare runs
        REQUIRE(p.run_native([&] { spares.insert(::gettid()); }).has_value());
        REQUIRE(blocked.get() == 200);
        // A few quick handlers once the blocked thread is back: a spare parks (or, before,
        // ended) once it sees it is no longer needed.
        for (int i = 0; i < 3; ++i)
            REQUIRE(p.run_native([] {}).has_value());
    }
    INFO("distinct threads that ran beside a blocked one: " << spares.size());
    CHECK(spares.size() <= 2);
    CHECK(threads_in_process() <= threads_before + 2);
}

TEST_CASE("an exception escaping a handler is logged and the IO thread keeps running") {
    running_pool p(1, nullptr);
    net::post(p.ioc, [] { throw std::runtime_error("thrown by a handler on purpose"); });
    const auto after = p.run_native([] {});
    CHECK(after.has_value()); // the same (only) thread ran the next handler
    CHECK_FALSE(p.escaped);
}

TEST_CASE("a native handler on an IO thread can call the Python app and wait for it") {
    // On the heap and left behind if the call deadlocks: the pool could never be joined.
    auto* a = new httpy::app(make_app("thread_ident"));
    auto* p = new running_pool(1, &a->python());
    httpy::call_result r;
    const auto ran = p->run_native([&] { r = a->call(get("/")); }, 5000ms);
    REQUIRE_MESSAGE(ran.has_value(), "app::call on the pool's only thread never returned");
    CHECK(r.resp.status == 200);
    delete p;
    delete a;
}
