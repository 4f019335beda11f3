#include "cli/stop_signals.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstring>

#include <unistd.h>

namespace httpy::cli {

namespace {

// What the process-wide handler knows; written before it is installed or by it alone.
volatile std::sig_atomic_t worker_process = 0;
volatile std::sig_atomic_t stop_signals_seen = 0; // SIGTERM and SIGINT, while it is installed
volatile std::sig_atomic_t first_stop_signal = 0;
volatile std::sig_atomic_t reload_requested = 0; // a SIGHUP before a stop_signals took it

// Only async-signal-safe calls: the first stop signal is recorded; a second one in a single
// process exits at once (a worker leaves that to its supervisor); SIGHUP is recorded (files it
// would reload may have changed since they were read); SIGUSR1 (a logrotate's reopen, which
// must never end the process) is dropped.
extern "C" void record_signal(int signal) {
    if (signal == SIGHUP)
        reload_requested = 1;
    if (signal != SIGTERM && signal != SIGINT)
        return;
    stop_signals_seen = stop_signals_seen + 1;
    if (stop_signals_seen == 1) {
        first_stop_signal = signal;
        return;
    }
    if (worker_process)
        return;
    static constexpr char message[] = "httpy: a second stop signal: exiting at once\n";
    [[maybe_unused]] auto ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
    ::_exit(128 + signal);
}

void install_recorder() {
    struct sigaction action {};
    action.sa_handler = record_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1})
        ::sigaction(signal, &action, nullptr);
}

} // namespace

void catch_stop_signals_early(bool worker) {
    worker_process = worker ? 1 : 0;
    install_recorder();
    if (!worker)
        return; // a single process leaves its mask as it found it
    sigset_t caught;
    sigemptyset(&caught);
    for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1})
        sigaddset(&caught, signal);
    ::pthread_sigmask(SIG_UNBLOCK, &caught, nullptr);
}

stop_signals::stop_signals(boost::asio::io_context& ioc, bool worker,
                           std::function<void(int)> on_stop, std::function<void()> on_reopen,
                           std::function<void()> on_reload)
    : signals_(ioc, SIGTERM, SIGINT, SIGUSR1), worker_(worker), on_stop_(std::move(on_stop)),
      on_reopen_(std::move(on_reopen)), on_reload_(std::move(on_reload)) {
    signals_.add(SIGHUP);
    // Asio's handler is in place now: a signal recorded before is acted on here, later ones
    // come through the signal set.
    if (const int early = first_stop_signal; early != 0)
        boost::asio::post(ioc, [this, early] { on_signal(early); });
    if (reload_requested != 0) {
        reload_requested = 0;
        boost::asio::post(ioc, [this] { on_signal(SIGHUP); });
    }
    wait();
}

stop_signals::~stop_signals() {
    boost::system::error_code ignored;
    signals_.clear(ignored); // Asio restores the default actions...
    stop_signals_seen = stops_.load() > 0 ? 1 : 0;
    install_recorder(); // ...which must not end the tear-down: a second signal still exits
}

void stop_signals::wait() {
    signals_.async_wait([this](boost::system::error_code ec, int signal) {
        if (ec)
            return;
        on_signal(signal);
        wait();
    });
}

void stop_signals::on_signal(int signal) {
    if (signal == SIGUSR1) {
        if (on_reopen_)
            on_reopen_();
        return;
    }
    if (signal == SIGHUP) {
        if (worker_)
            spdlog::info("signal {} ignored: the supervisor reloads", signal);
        else if (on_reload_)
            on_reload_();
        else
            spdlog::info("signal {}: nothing to reload; serving on", signal);
        return;
    }
    if (stops_.fetch_add(1) == 0)
        return on_stop_(signal);
    if (worker_) {
        spdlog::info("signal {} while stopping: ignored, the supervisor decides", signal);
        return;
    }
    spdlog::warn("signal {} while stopping: exiting at once with code {}, without draining",
                 signal, 128 + signal);
    spdlog::default_logger()->flush();
    std::fflush(nullptr);
    ::_exit(128 + signal);
}

} // namespace httpy::cli
