#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace httpy::cli {

/// The last resort that keeps `httpy serve`'s promise to exit by its drain deadline: once a
/// deadline is set, a thread of its own ends the process with exit code 0 (`_exit`, after
/// flushing the log) if it is still running then. Only a tear-down that waits for a thread
/// that cannot be stopped gets there: a handler that never returns (`time.sleep(1000)` after
/// its TimeoutError was raised, a C call holding the GIL). Python is then not finalised and
/// its atexit handlers do not run.
class exit_deadline {
public:
    using clock = std::chrono::steady_clock;

    exit_deadline() = default;
    /// Disarms it and joins its thread.
    ~exit_deadline();
    exit_deadline(const exit_deadline&) = delete;
    exit_deadline& operator=(const exit_deadline&) = delete;

    /// Exits at `at` at the latest; an earlier deadline set before stays. Thread-safe.
    void no_later_than(clock::time_point at);

private:
    void run();

    std::mutex mu_;
    std::condition_variable changed_;
    std::optional<clock::time_point> at_; // guarded by mu_
    bool disarmed_ = false;               // guarded by mu_
    std::thread thread_;
};

} // namespace httpy::cli
