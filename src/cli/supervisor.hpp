#pragma once

#include "httpy/server_options.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace httpy {

/// A worker process's line to its supervisor (a socket pair). Thread-safe: each message goes
/// out whole, never interleaved with another.
class worker_link {
public:
    explicit worker_link(int fd) noexcept : fd_(fd) {}
    worker_link(const worker_link&) = delete;
    worker_link& operator=(const worker_link&) = delete;

    /// The worker listens and serves: during a start, the supervisor counts it as up; during a
    /// reload or a recycle, it stops the worker this one replaces.
    void ready() const noexcept;

    /// The worker wants to be replaced (it reached its request limit): the supervisor starts a
    /// successor and stops this worker gracefully once the successor is ready.
    void replace_me() const noexcept;

    /// Answers the supervisor's request for this worker's metrics (`scrape_requested` read it on
    /// `fd()`) with `page`, Prometheus text.
    void send_metrics(std::string_view page) const noexcept;

    /// Sends this worker's last metrics page, once its server has stopped: what its counters
    /// reached, kept by the supervisor once the worker is gone.
    void send_final_metrics(std::string_view page) const noexcept;

    /// The worker's end of the link, which the supervisor writes `scrape_request` bytes to.
    int fd() const noexcept { return fd_; }

    /// The byte by which the supervisor asks for a metrics page.
    static constexpr char scrape_request = 'S';

private:
    void send(std::string_view bytes) const noexcept;
    void send_page(char kind, std::string_view page) const noexcept;

    int fd_;
    mutable std::mutex mu_; // one message at a time
};

struct supervisor_options {
    /// Worker processes kept running.
    std::size_t workers = 1;
    /// A worker whose resident memory passes this many bytes is replaced; 0: no limit.
    std::uint64_t max_worker_memory = 0;
    /// The time a worker gets from the SIGTERM it is sent (on SIGTERM/SIGINT, and when it is
    /// replaced: reload, request or memory limit) before it is killed: its own drain timeout
    /// plus a margin longer than the one it takes to exit after its drain deadline.
    std::chrono::milliseconds stop_timeout{15'000};
    /// How often worker memory is checked.
    std::chrono::milliseconds check_interval{1'000};
    /// The admin listener the supervisor serves (see `admin_server_options`), or none:
    /// `/metrics` merged from every worker's page (`worker_link::send_metrics`), `/healthz`,
    /// and `/readyz`, ready while a worker is ready and no stop has begun.
    std::optional<server_options> admin;
    /// A folder whose Python sources are watched (`--reload`): when a `.py` file under it is
    /// created, changed, moved or deleted, every worker is replaced as on SIGHUP (after 200 ms
    /// without further changes); empty: none.
    std::string watch_sources;
    /// How long a scrape waits for the workers' pages; a worker that has not answered by then
    /// counts with its last page (its counters; its gauges are left out).
    std::chrono::milliseconds scrape_timeout{1'000};
};

/// The process that runs no Python itself: forks `options.workers` workers, each of which runs
/// `worker_main` (which initialises its own interpreter, imports the app and serves) and exits
/// with what it returns. The supervisor
///  - restarts a worker that dies (waiting longer and longer when replacements die at once);
///  - replaces a worker that asks for it (`worker_link::replace_me`) or passes
///    `max_worker_memory`: the successor starts first, the old worker is stopped with SIGTERM
///    once the successor is ready, so serving never pauses, and killed `stop_timeout` after that
///    SIGTERM if it is still running;
///  - on SIGHUP replaces every worker the same way (a reload: the successors import the app
///    afresh); if a successor fails before it is ready, the old workers keep serving;
///  - passes SIGUSR1 on to every worker (each reopens its access log);
///  - on SIGTERM or SIGINT sends SIGTERM to every worker, waits for them to drain
///    (`stop_timeout` from each one's SIGTERM, then SIGKILL) and returns 0; on a second SIGTERM
///    or SIGINT kills every worker at once and returns 128 + the signal number.
/// Workers get SIGTERM if the supervisor dies.
///
/// `on_started` is called once every first worker is ready.
///
/// Workers start with SIGTERM, SIGINT, SIGHUP and SIGUSR1 blocked; `worker_main` unblocks them
/// once it catches them.
///
/// Returns: 0 after a stop (128 + the signal number after a second stop signal); when a worker
/// exits before it is ready during the first start (a bad app, say), the others are stopped and
/// its exit code is returned (1 if it was killed).
/// Throws: std::system_error when the supervisor cannot watch signals.
///
/// Requires: the calling process is single-threaded and has not initialised Python.
int supervise(const supervisor_options& options,
              const std::function<int(worker_link&)>& worker_main,
              const std::function<void()>& on_started);

} // namespace httpy
