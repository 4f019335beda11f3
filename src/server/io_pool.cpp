#include "httpy/io_pool.hpp"

#include "httpy/executor.hpp"

#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace httpy {

namespace net = boost::asio;

struct io_pool::state {
    state(net::io_context& io, std::size_t n, executor* py)
        : ioc(io), base_threads(n > 0 ? n : std::max(1u, std::thread::hardware_concurrency())),
          python(py) {}

    net::io_context& ioc;
    const std::size_t base_threads;
    executor* python;
    std::atomic<std::size_t> running{0};
    std::mutex mu;
    std::condition_variable spare_left;
    std::size_t spares = 0; // guarded by mu
    bool joined = false;    // guarded by mu: no more spares once run() returns

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
        ioc.run();
        --running;
    }

    void run_spare_thread() {
        std::optional<executor::io_thread> attached;
        if (python)
            attached.emplace(*python, ioc.get_executor());
        while (!ioc.stopped() && ioc.run_one() > 0) {
            if (unblocked() > base_threads)
                break; // the blocked thread is back: this one is no longer needed
        }
        attached.reset();
        --running;
        std::lock_guard lock(mu);
        --spares;
        spare_left.notify_all();
    }

    void add_spare_if_needed() {
        std::lock_guard lock(mu);
        if (joined || ioc.stopped() || unblocked() >= base_threads)
            return;
        ++running;
        ++spares;
        std::thread([this] { run_spare_thread(); }).detach(); // run() waits for it to leave
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
    std::unique_lock lock(state_->mu);
    state_->joined = true;
    state_->spare_left.wait(lock, [&] { return state_->spares == 0; });
}

std::size_t io_pool::threads() const noexcept { return state_->running; }

std::size_t io_pool::threads_wanted() const noexcept { return state_->base_threads; }

} // namespace httpy
