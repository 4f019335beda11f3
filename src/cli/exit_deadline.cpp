#include "cli/exit_deadline.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>

#include <unistd.h>

namespace httpy::cli {

exit_deadline::~exit_deadline() {
    {
        std::lock_guard lock(mu_);
        disarmed_ = true;
    }
    changed_.notify_one();
    if (thread_.joinable())
        thread_.join();
}

void exit_deadline::no_later_than(clock::time_point at) {
    std::lock_guard lock(mu_);
    if (at_ && *at_ <= at)
        return;
    at_ = at;
    if (thread_.joinable())
        changed_.notify_one();
    else
        thread_ = std::thread([this] { run(); });
}

void exit_deadline::run() {
    std::unique_lock lock(mu_);
    while (!disarmed_ && clock::now() < *at_)
        changed_.wait_until(lock, *at_);
    if (disarmed_)
        return;
    lock.unlock();
    spdlog::warn("the shutdown is not done by its deadline: a handler that does not return holds "
                 "a thread; exiting now with code 0 without waiting for it (Python is not "
                 "finalised)");
    spdlog::default_logger()->flush();
    std::fflush(nullptr);
    ::_exit(0);
}

} // namespace httpy::cli
