#include "httpy/io_pool.hpp"

#include "httpy/executor.hpp"

#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

namespace httpy {

namespace net = boost::asio;

namespace {

// Called in a catch block: nothing a handler throws ends an IO thread.
void log_escaped_exception() noexcept {
    try {
        throw;
    } catch (const std::exception& e) {
        spdlog::error("an exception escaped a handler on an IO thread: {}; the thread carries on",
                      e.what());
    } catch (...) {
        spdlog::error("a non-standard exception escaped a handler on an IO thread; the thread "
                      "carries on");
    }
}

} // namespace

struct io_pool::state {
    state(net::io_context& io, std::size_t n, executor* py)
        : ioc(io), base_threads(n > 0 ? n : std::max(1u, std::thread::hardware_concurrency())),
          python(py) {}

    net::io_context& ioc;
    const std::size_t base_threads;
    executor* python;
    std::atomic<std::size_t> running{0};
    std::mutex mu;
    std::condition_variable spare_wanted; // parked spares wait on it
    std::vector<std::thread> spares;      // guarded by mu: every spare started, busy or parked
    std::size_t parked = 0;               // guarded by mu
    std::size_t woken = 0;                // guarded by mu: parked spares asked to run again
    bool joined = false;                  // guarded by mu: no more spares once run() returns

    // Threads not stuck in a blocked call, compared with the number wanted.
    std::size_t unblocked() const {
        const std::size_t blocked = python ? python->blocked_io_threads() : 0;
        const std::size_t total = running;
        return total > blocked ? total - blocked : 0;
    }

    void run_base_thread() {
        std::optional<executor::io_thread> attached;
        if (python)
            attached.emplace(*python, ioc.get_executor());
        ++running;
        for (;;) {
            try {
                ioc.run();
                break;
            } catch (...) {
                log_escaped_exception();
            }
        }
        --running;
    }

    // Runs handlers one at a time for as long as the pool needs this spare.
    void run_while_needed() {
        for (;;) {
            std::size_t ran = 0;
            try {
                ran = ioc.run_one();
            } catch (...) {
                log_escaped_exception();
                continue;
            }
            if (ran == 0 || ioc.stopped() || unblocked() > base_threads)
                return; // stopped, or the blocked thread is back
        }
    }

    // A spare: attached to Python once (which takes no GIL), then runs the io_context whenever
    // a call blocks a thread, parked in between, until the pool has run.
    void run_spare_thread() {
        std::optional<executor::io_thread> attached;
        if (python)
            attached.emplace(*python, ioc.get_executor());
        std::unique_lock lock(mu);
        for (;;) {
            lock.unlock();
            run_while_needed();
            lock.lock();
            --running;
            ++parked;
            spare_wanted.wait(lock, [&] { return joined || woken > 0; });
            if (woken == 0)
                break; // joined
            --woken;
        }
        lock.unlock();
        attached.reset();
    }

    void add_spare_if_needed() {
        std::lock_guard lock(mu);
        if (joined || ioc.stopped() || unblocked() >= base_threads)
            return;
        ++running;
        if (parked > 0) {
            --parked;
            ++woken;
            spare_wanted.notify_one();
        } else {
            try {
                spares.emplace_back([this] { run_spare_thread(); }); // run() joins it
            } catch (const std::system_error& e) {
                --running;
                spdlog::warn("no spare IO thread beside a blocked one: {}", e.what());
                return;
            }
        }
        spdlog::debug("a Python call blocked an IO thread; {} threads now run the io_context",
                      running.load());
    }
};

io_pool::io_pool(net::io_context& ioc, std::size_t threads, executor* python)
    : state_(std::make_shared<state>(ioc, threads, python)) {
    if (python)
        python->on_io_thread_blocked([weak = std::weak_ptr<state>(state_)] {
            if (auto s = weak.lock()) // the monitor may call a copy after the pool is gone
                s->add_spare_if_needed();
        });
}

io_pool::~io_pool() {
    if (state_->python)
        state_->python->on_io_thread_blocked(nullptr);
}

void io_pool::run() {
    std::vector<std::thread> base;
    for (std::size_t i = 1; i < state_->base_threads; ++i)
        base.emplace_back([s = state_.get()] { s->run_base_thread(); });
    state_->run_base_thread();
    for (auto& t : base)
        t.join();
    std::vector<std::thread> spares;
    {
        std::lock_guard lock(state_->mu);
        state_->joined = true;
        spares = std::move(state_->spares);
    }
    state_->spare_wanted.notify_all();
    for (auto& t : spares)
        t.join();
}

std::size_t io_pool::threads() const noexcept { return state_->running; }

std::size_t io_pool::threads_wanted() const noexcept { return state_->base_threads; }

} // namespace httpy
