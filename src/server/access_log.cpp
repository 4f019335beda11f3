#include "server/access_log.hpp"

#include "httpy/config_error.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <utility>

namespace httpy::detail {

namespace {

constexpr std::string_view standard_output = "-";

std::string error_text(int error) {
    return std::error_code(error, std::generic_category()).message();
}

int open_for_append(const std::string& path) {
    int fd = -1;
    do
        fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    while (fd < 0 && errno == EINTR);
    return fd;
}

int open_target(const std::string& path) {
    if (path == standard_output)
        return STDOUT_FILENO;
    const int fd = open_for_append(path);
    if (fd < 0)
        throw config_error(
            fmt::format("cannot open the access log {}: {}", path, error_text(errno)));
    return fd;
}

bool is_regular_file(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

// Returns 0 once all of `data` is written, else the errno of the write that failed.
int write_fully(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n >= 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return errno;
        // Another user of a shared file description (the standard output's) made it
        // non-blocking: wait for room as a blocking write would.
        pollfd writable{fd, POLLOUT, 0};
        ::poll(&writable, 1, -1);
    }
    return 0;
}

// Signals belong to the threads that handle them; and with SIGPIPE blocked, writing to a pipe
// whose reader left fails with EPIPE instead of ending the process.
void block_signals() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
}

std::uint64_t count_lines(std::string_view s) {
    return static_cast<std::uint64_t>(std::count(s.begin(), s.end(), '\n'));
}

} // namespace

std::size_t pipe_piece_size(std::string_view pending) noexcept {
    if (pending.size() <= PIPE_BUF)
        return pending.size();
    const std::size_t last = pending.rfind('\n', PIPE_BUF - 1);
    if (last != std::string_view::npos)
        return last + 1;
    const std::size_t first = pending.find('\n');
    return first == std::string_view::npos ? pending.size() : first + 1;
}

access_log::access_log(std::string path, access_log_format format, std::size_t pending_limit)
    : path_(std::move(path)), format_(std::move(format)), pending_limit_(pending_limit),
      fd_(open_target(path_)), in_pipe_pieces_(!is_regular_file(fd_)),
      writer_([this] { run(); }) {}

access_log::~access_log() {
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    writer_.join();
    if (path_ != standard_output)
        ::close(fd_);
}

void access_log::write(const exchange_record& r) {
    // Formatted before the lock is taken, into a buffer that keeps its capacity.
    thread_local std::string line;
    line.clear();
    format_.append(r, line);
    std::unique_lock lock(mutex_);
    if (pending_.size() + line.size() > pending_limit_) {
        ++dropped_;
        ++unreported_drops_;
        return;
    }
    // The writer waits for a first line, then for a batch to gather: only the first line and
    // the one that fills a batch must wake it.
    const bool wake = pending_.empty() ||
                      (pending_.size() < batch_bytes && pending_.size() + line.size() >= batch_bytes);
    pending_.append(line);
    queued_bytes_ += line.size();
    lock.unlock();
    if (wake)
        wake_.notify_one();
}

void access_log::reopen() {
    if (path_ == standard_output)
        return;
    {
        const std::lock_guard lock(mutex_);
        ++reopens_asked_;
    }
    wake_.notify_one();
}

void access_log::flush() {
    std::unique_lock lock(mutex_);
    const std::uint64_t bytes = queued_bytes_;
    const std::uint64_t reopens = reopens_asked_;
    ++flushes_asked_; // the writer writes what is pending without waiting for a batch
    wake_.notify_one();
    progress_.wait(lock, [&] { return done_bytes_ >= bytes && reopens_done_ >= reopens; });
    --flushes_asked_;
}

std::uint64_t access_log::dropped() const {
    const std::lock_guard lock(mutex_);
    return dropped_;
}

void access_log::run() {
    block_signals();
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [&] {
            return stopping_ || reopens_done_ != reopens_asked_ || !pending_.empty();
        });
        if (reopens_done_ != reopens_asked_) {
            const std::uint64_t reopens = reopens_asked_;
            lock.unlock();
            reopen_now();
            lock.lock();
            reopens_done_ = reopens;
        } else if (pending_.empty()) {
            break; // stopping, and everything is written
        } else {
            // Let a batch gather; write() does not wake the writer for the lines that follow.
            wake_.wait_for(lock, batch_delay, [&] {
                return stopping_ || flushes_asked_ != 0 || reopens_done_ != reopens_asked_ ||
                       pending_.size() >= batch_bytes;
            });
            batch_.swap(pending_);
            lock.unlock();
            const std::uint64_t lost = write_batch(batch_);
            lock.lock();
            done_bytes_ += batch_.size();
            batch_.clear();
            account(lost, lock);
        }
        progress_.notify_all();
    }
    if (unreported_drops_ != 0)
        report_drops(lock);
}

std::uint64_t access_log::write_batch(std::string_view batch) {
    while (!batch.empty()) {
        const std::size_t size = in_pipe_pieces_ ? pipe_piece_size(batch) : batch.size();
        if (const int error = write_fully(fd_, batch.substr(0, size)); error != 0) {
            if (!std::exchange(failing_, true))
                spdlog::error("access log {}: writing failed: {}; its lines are dropped until a "
                              "write succeeds",
                              path_, error_text(error));
            return count_lines(batch);
        }
        batch.remove_prefix(size);
    }
    failing_ = false;
    return 0;
}

void access_log::reopen_now() {
    const int fd = open_for_append(path_);
    if (fd < 0) {
        spdlog::error("access log {}: reopening failed: {}; still writing to the file opened "
                      "before",
                      path_, error_text(errno));
        return;
    }
    ::close(fd_);
    fd_ = fd;
    in_pipe_pieces_ = !is_regular_file(fd_);
}

void access_log::account(std::uint64_t lost, std::unique_lock<std::mutex>& lock) {
    dropped_ += lost;
    unreported_drops_ += lost;
    if (lost != 0 || unreported_drops_ == 0)
        return;
    const auto now = std::chrono::steady_clock::now();
    if (last_drop_report_ != std::chrono::steady_clock::time_point{} &&
        now - last_drop_report_ < drop_report_interval)
        return;
    last_drop_report_ = now;
    report_drops(lock);
}

void access_log::report_drops(std::unique_lock<std::mutex>& lock) {
    const std::uint64_t count = std::exchange(unreported_drops_, 0);
    // Not under the lock: the log's own sink may block, and write() must not wait for it.
    lock.unlock();
    spdlog::warn("access log {}: {} lines dropped, because more than {} bytes waited for a disk "
                 "or pipe that did not take them, or because writing failed",
                 path_, count, pending_limit_);
    lock.lock();
}

} // namespace httpy::detail
