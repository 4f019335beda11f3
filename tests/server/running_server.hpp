#pragma once
// Test-only: an httpy::server on 127.0.0.1:0 whose io_context runs on its own threads, stopped
// and joined when the scope ends (tests/server/*_test.cpp).

#include "httpy/router.hpp"
#include "httpy/server.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace httpy::test {

/// Options for a test server: port 0 (any free port), otherwise the defaults.
inline server_options test_options() {
    server_options o;
    o.port = 0;
    return o;
}

/// A one-shot latch with a deadline, so that a test failing while a handler waits on it cannot
/// hang the test run.
class gate {
public:
    void open() {
        {
            std::lock_guard lock(mu_);
            open_ = true;
        }
        cv_.notify_all();
    }

    /// Waits until the gate opens, at most `timeout`. True when it opened.
    bool wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, timeout, [this] { return open_; });
    }

    bool is_open() {
        std::lock_guard lock(mu_);
        return open_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool open_ = false;
};

/// Polls `condition` until it holds, at most `timeout`. True when it held.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

/// `routes` served on 127.0.0.1:<any> by `threads` threads running the io_context. The server
/// is started (and so bound) in the constructor; the destructor stops it, unless the test did,
/// waits for the stop to complete (at most 30 s), stops the io_context and joins the threads.
class running_server {
public:
    explicit running_server(const router& routes, server_options options = test_options(),
                            std::size_t threads = 1)
        : http_(ioc_, routes, std::move(options)) {
        http_.start();
        for (std::size_t i = 0; i < threads; ++i)
            threads_.emplace_back([this] { ioc_.run(); });
    }

    ~running_server() {
        if (!stop_requested_)
            stop();
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::seconds(30), [this] { return stopped_; });
        lock.unlock();
        ioc_.stop();
        for (auto& t : threads_)
            t.join();
    }

    running_server(const running_server&) = delete;
    running_server& operator=(const running_server&) = delete;

    /// server::stop; `done` runs (on an io thread) when the stop completes.
    void stop(std::function<void()> done = {}) {
        stop_requested_ = true;
        http_.stop([this, done = std::move(done)] {
            if (done)
                done();
            {
                std::lock_guard lock(mu_);
                stopped_ = true;
            }
            cv_.notify_all();
        });
    }

    /// True once a stop has completed (its `done` has run).
    bool stopped() {
        std::lock_guard lock(mu_);
        return stopped_;
    }

    unsigned short port() const { return http_.port(); }
    httpy::server& get() { return http_; }

private:
    boost::asio::io_context ioc_;
    httpy::server http_;
    std::vector<std::thread> threads_;
    std::atomic<bool> stop_requested_{false};
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopped_ = false;
};

} // namespace httpy::test
