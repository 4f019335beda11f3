#pragma once

#include <boost/asio/signal_set.hpp>

#include <atomic>
#include <functional>

namespace boost::asio {
class io_context;
}

namespace httpy::cli {

/// Catches SIGTERM, SIGINT, SIGHUP and SIGUSR1 from now on, before the interpreter starts and the
/// server listens, so that no window is left in which one ends the process by its default
/// action (a SIGHUP is recorded, and acted on by `stop_signals`; a SIGUSR1 is dropped). Until a `stop_signals` takes them over, a stop signal is
/// recorded (and acted on then); a second one exits at once, as `stop_signals` describes.
/// A worker starts with the three blocked (supervisor.cpp blocks them across `fork`); this
/// unblocks them once they are caught.
/// Requires: called first thing in the process that serves, before it starts threads.
void catch_stop_signals_early(bool worker);

/// How `httpy serve` takes its signals while it serves, on the io_context:
///  - the first SIGTERM or SIGINT (or one recorded by `catch_stop_signals_early`) calls
///    `on_stop(signal)` on an io_context thread: the graceful stop;
///  - a second one, in a single process, is logged and exits at once, without draining, with
///    exit code 128 + the signal number (143 for SIGTERM, 130 for SIGINT, what a shell reports
///    for a process its signal ended); in a worker it is logged and ignored: its supervisor
///    decides (a terminal's Ctrl-C sends SIGINT to the supervisor and the workers alike, then
///    the supervisor sends SIGTERM);
///  - SIGHUP, in a worker, is logged and ignored: the supervisor reloads; in a single process
///    it calls `on_reload` (the TLS certificate is read again), or without one is logged;
///  - SIGUSR1 calls `on_reopen` (the access log reopens its file, for logrotate); before a
///    `stop_signals` takes it, and after, it is ignored, never the default action's exit.
/// Once it is destroyed (during the tear-down) a second signal still exits at once.
class stop_signals {
public:
    stop_signals(boost::asio::io_context& ioc, bool worker, std::function<void(int)> on_stop,
                 std::function<void()> on_reopen = {}, std::function<void()> on_reload = {});
    ~stop_signals();
    stop_signals(const stop_signals&) = delete;
    stop_signals& operator=(const stop_signals&) = delete;

private:
    void wait();
    void on_signal(int signal);

    boost::asio::signal_set signals_;
    bool worker_;
    std::function<void(int)> on_stop_;
    std::function<void()> on_reopen_;
    std::function<void()> on_reload_;
    std::atomic<int> stops_{0}; // SIGTERM and SIGINT seen, the one recorded early included
};

} // namespace httpy::cli
