#pragma once

#include "server/access_log_format.hpp"
#include "server/exchange_record.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace httpy::detail {

/// The access log's writer: formats one line per answered request on the caller's thread and
/// hands it to a thread of its own that writes it, so that the IO threads (which run Python
/// too) never wait for a disk or a pipe.
///
/// The writer thread writes what has gathered with write(2), whole lines only. To a regular
/// file (opened `O_APPEND`) it writes everything pending at once; to anything else (a pipe, a
/// FIFO, a socket, a terminal) it writes at most `PIPE_BUF` bytes at a time, each piece ending
/// on a line's end, so that lines from several worker processes writing to one pipe never
/// interleave (a single line longer than `PIPE_BUF` goes alone, and may).
///
/// Nothing grows without bound: while more than `pending_limit` bytes wait (the disk or the
/// reader of the pipe is stuck), new lines are dropped and counted, and once the writer gets
/// a write through again a warning names how many were lost (at most one warning every 10 s,
/// and the rest when the log is destroyed). Lines a failed write(2) loses count the same way.
///
/// Create it after forking worker processes: its thread does not survive a fork.
class access_log {
public:
    /// The default of the bytes that may wait for the writer before lines are dropped.
    static constexpr std::size_t default_pending_limit = 4 * 1024 * 1024;

    /// Opens `path` for appending (`O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC`, mode 0644) or,
    /// when `path` is `-`, writes to the standard output, and starts the writer thread. Opening
    /// a FIFO waits, as for any writer, until it has a reader.
    /// Throws: `httpy::config_error` naming `path` and why it could not be opened.
    access_log(std::string path, access_log_format format,
               std::size_t pending_limit = default_pending_limit);

    /// Writes what is pending (waiting, if it must, for a stuck pipe's reader), stops the
    /// writer thread and closes the file.
    ~access_log();

    access_log(const access_log&) = delete;
    access_log& operator=(const access_log&) = delete;

    /// Formats the line for `r` and queues it for the writer thread, or drops it (counted) when
    /// `pending_limit` bytes already wait. Never waits for I/O (the writer thread holds the lock
    /// only to swap buffers); allocates nothing once the calling thread's line buffer and the
    /// queue have grown to their working sizes.
    /// Requires: any thread.
    void write(const exchange_record& r);

    /// Has the writer thread open the path again, between two writes, so that after logrotate
    /// renamed the file the lines go to a new one at the path; the lines already queued may go
    /// to either. When that fails, the error is logged and the writer keeps the file it had. A
    /// no-op for the standard output. Returns at once.
    /// Requires: any thread, e.g. an Asio `signal_set` handler for SIGHUP or SIGUSR1; not a
    /// raw signal handler (it takes a mutex).
    void reopen();

    /// Waits until every line queued before the call was handed to write(2) (or dropped), and a
    /// reopen asked for before it is done; so it blocks while the target takes no writes (a
    /// pipe nobody reads). Requires: not an IO thread.
    void flush();

    /// The lines dropped so far: refused while the queue was full, or lost to a failed write.
    std::uint64_t dropped() const;

private:
    /// The writer thread's loop: waits for lines, a reopen or the stop, and serves them.
    void run();
    /// Writes `batch`, whole lines, to `fd_`; returns the lines a failed write lost.
    std::uint64_t write_batch(std::string_view batch);
    /// Opens `path_` again and swaps it for `fd_`; keeps `fd_` when that fails.
    void reopen_now();
    /// Counts `lost` lines and, after a write that went through, reports the drops not yet
    /// reported (at most once per `drop_report_interval`).
    /// Requires: `mutex_` held through `lock`.
    void account(std::uint64_t lost, std::unique_lock<std::mutex>& lock);
    /// Logs a warning with the drops not yet reported, releasing `lock` meanwhile.
    void report_drops(std::unique_lock<std::mutex>& lock);

    /// The least time between two warnings about dropped lines, so that a writer that stays
    /// behind does not flood the log; the last count is reported when the log is destroyed.
    static constexpr std::chrono::seconds drop_report_interval{10};
    /// Once lines are pending, how long the writer lets more gather before it writes them (unless
    /// `batch_bytes` have gathered first, or a flush or stop asks): one wake-up and one write(2)
    /// per batch instead of one per request, which on a loaded machine costs the IO threads less
    /// CPU (bench/ops_cost).
    static constexpr std::chrono::milliseconds batch_delay{20};
    static constexpr std::size_t batch_bytes = 256 * 1024;

    const std::string path_;
    const access_log_format format_;
    const std::size_t pending_limit_;

    /// The file written and how: only the writer thread touches these once it runs.
    int fd_ = -1;
    /// Whether writes are cut into pieces of at most `PIPE_BUF` bytes (anything but a file).
    bool in_pipe_pieces_ = false;
    /// Whether the last write failed (so that a run of failures logs one error).
    bool failing_ = false;
    /// When drops were last reported.
    std::chrono::steady_clock::time_point last_drop_report_{};
    /// The lines being written, swapped with `pending_` so both keep their capacity.
    std::string batch_;

    mutable std::mutex mutex_;
    /// Wakes the writer thread: lines queued, a reopen asked for, or the stop.
    std::condition_variable wake_;
    /// Wakes `flush()`: a batch was written, or a reopen done.
    std::condition_variable progress_;
    std::string pending_;
    /// Bytes ever queued, and bytes the writer has finished with: `flush()` waits for the
    /// second to pass the first's value at its call.
    std::uint64_t queued_bytes_ = 0;
    std::uint64_t done_bytes_ = 0;
    std::uint64_t dropped_ = 0;
    /// Drops not yet reported in a warning.
    std::uint64_t unreported_drops_ = 0;
    /// Reopens asked for, and reopens the writer has done (or failed).
    std::uint64_t reopens_asked_ = 0;
    std::uint64_t flushes_asked_ = 0; // flush() calls waiting now
    std::uint64_t reopens_done_ = 0;
    bool stopping_ = false;

    /// Last, so that everything above exists before the thread starts.
    std::thread writer_;
};

/// How many bytes of `pending` (whole lines, each ending in `\n`) the writer hands to one
/// write(2) on a pipe: the whole lines that fit in `PIPE_BUF` bytes, or the first line alone
/// when it is longer.
std::size_t pipe_piece_size(std::string_view pending) noexcept;

} // namespace httpy::detail
