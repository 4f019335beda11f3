#include "cli/supervisor.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <list>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace httpy {

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char message_ready = 'R';
constexpr char message_replace_me = 'M';
constexpr int worker_link_fd = 3;              // where a worker finds its end of the link
constexpr milliseconds quick_death{1'000};     // a worker dying sooner than this backs off
constexpr milliseconds max_backoff{10'000};

struct worker {
    pid_t pid = 0;
    int link = -1; // the supervisor's end; -1 once the worker closed its end
    clock_type::time_point started;
    bool ready = false;
    bool stopping = false;     // the supervisor sent SIGTERM
    bool killed = false;       // ... and then SIGKILL
    clock_type::time_point kill_at; // once stopping: when SIGKILL follows
    bool succeeded_by = false; // a successor is starting
    pid_t replaces = 0;        // the worker this one takes over from once it is ready
};

std::string describe(int status) {
    if (WIFEXITED(status))
        return fmt::format("exited with code {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return fmt::format("was killed by signal {} ({})", WTERMSIG(status),
                           ::strsignal(WTERMSIG(status)));
    return "stopped";
}

std::uint64_t resident_bytes(pid_t pid) {
    std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
    std::uint64_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

class supervisor {
public:
    supervisor(const supervisor_options& options,
               const std::function<int(worker_link&)>& worker_main,
               const std::function<void()>& on_started)
        : options_(options), worker_main_(worker_main), on_started_(on_started) {}

    int run();

private:
    void spawn(pid_t replaces);
    void spawn_failed(const char* call, pid_t replaces);
    [[noreturn]] void run_worker(int link);
    void on_signals();
    void on_exit(pid_t pid, int status);
    void on_messages(worker& w);
    void on_ready(worker& w);
    void replace(worker& w);
    void terminate(worker& w);
    void kill_overdue(clock_type::time_point now);
    void begin_stop();
    void stop_at_once(int signal);
    void reload();
    void check_memory();
    int poll_timeout(clock_type::time_point now) const;
    worker* find(pid_t pid);

    const supervisor_options& options_;
    const std::function<int(worker_link&)>& worker_main_;
    const std::function<void()>& on_started_;
    pid_t self_ = ::getpid();
    sigset_t handled_{};
    sigset_t previous_{};
    int signals_ = -1;
    std::list<worker> workers_; // stable addresses: handlers keep references across spawns
    bool started_ = false;      // every first worker has been ready
    bool stopping_ = false;
    bool signalled_ = false;    // a SIGTERM or SIGINT began the stop
    std::optional<int> failed_; // exit code of a worker that failed during the first start
    std::optional<int> forced_; // exit code after a second SIGTERM or SIGINT
    std::size_t restarts_due_ = 0;
    clock_type::time_point restart_at_;
    milliseconds backoff_{0};
    clock_type::time_point next_check_ = clock_type::now();
};

worker* supervisor::find(pid_t pid) {
    auto it = std::find_if(workers_.begin(), workers_.end(),
                           [pid](const worker& w) { return w.pid == pid; });
    return it == workers_.end() ? nullptr : &*it;
}

int supervisor::run() {
    sigemptyset(&handled_);
    for (int signal : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1})
        sigaddset(&handled_, signal);
    ::sigprocmask(SIG_BLOCK, &handled_, &previous_);
    signals_ = ::signalfd(-1, &handled_, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signals_ < 0)
        throw std::system_error(errno, std::system_category(), "signalfd");

    for (std::size_t i = 0; i < options_.workers; ++i)
        spawn(0);
    while (!(stopping_ && workers_.empty())) {
        std::vector<pollfd> fds{{signals_, POLLIN, 0}};
        std::vector<pid_t> owners{0};
        for (const auto& w : workers_)
            if (w.link >= 0) {
                fds.push_back({w.link, POLLIN, 0});
                owners.push_back(w.pid);
            }
        const int n = ::poll(fds.data(), fds.size(), poll_timeout(clock_type::now()));
        if (n < 0 && errno != EINTR)
            throw std::system_error(errno, std::system_category(), "poll");
        for (std::size_t i = 1; n > 0 && i < fds.size(); ++i)
            if (fds[i].revents != 0)
                if (worker* w = find(owners[i]))
                    on_messages(*w);
        if (n > 0 && fds[0].revents != 0)
            on_signals();

        const auto now = clock_type::now();
        kill_overdue(now);
        if (!stopping_ && restarts_due_ > 0 && now >= restart_at_) {
            // Taken first: a spawn that fails schedules its own retry in restarts_due_.
            for (auto due = std::exchange(restarts_due_, 0); due > 0; --due)
                spawn(0);
        }
        if (!stopping_ && options_.max_worker_memory > 0 && now >= next_check_) {
            check_memory();
            next_check_ = now + options_.check_interval;
        }
    }
    ::close(signals_);
    ::sigprocmask(SIG_SETMASK, &previous_, nullptr);
    return forced_.value_or(failed_.value_or(0));
}

int supervisor::poll_timeout(clock_type::time_point now) const {
    std::optional<clock_type::time_point> wake;
    auto consider = [&](clock_type::time_point t) { wake = wake ? std::min(*wake, t) : t; };
    for (const auto& w : workers_)
        if (w.stopping && !w.killed)
            consider(w.kill_at);
    if (!stopping_ && restarts_due_ > 0)
        consider(restart_at_);
    if (!stopping_ && options_.max_worker_memory > 0)
        consider(next_check_);
    if (!wake)
        return -1;
    const auto wait = std::chrono::ceil<milliseconds>(*wake - now).count();
    return static_cast<int>(std::clamp<long long>(wait, 0, 60'000));
}

// A successor that could not start leaves the worker it was for serving (a later replacement
// may try again); any other worker is started again after a pause.
void supervisor::spawn_failed(const char* call, pid_t replaces) {
    const int error = errno;
    if (replaces != 0) {
        spdlog::error("cannot start a worker to replace worker {}: {}: {}", replaces, call,
                      std::strerror(error));
        if (worker* old = find(replaces))
            old->succeeded_by = false;
        return;
    }
    spdlog::error("cannot start a worker: {}: {}; retrying in 1 s", call, std::strerror(error));
    ++restarts_due_;
    restart_at_ = clock_type::now() + milliseconds(1'000);
}

void supervisor::spawn(pid_t replaces) {
    int link[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, link) != 0) {
        spawn_failed("socketpair", replaces);
        return;
    }
    std::fflush(nullptr); // nothing buffered is written twice
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(link[0]);
        run_worker(link[1]);
    }
    ::close(link[1]);
    if (pid < 0) {
        const int error = errno;
        ::close(link[0]);
        errno = error;
        spawn_failed("fork", replaces);
        return;
    }
    workers_.push_back(
        {.pid = pid, .link = link[0], .started = clock_type::now(), .replaces = replaces});
    if (replaces != 0)
        spdlog::info("worker {} starting to replace worker {}", pid, replaces);
    else
        spdlog::info("worker {} starting", pid);
}

void supervisor::run_worker(int link) {
    // A worker must not outlive its supervisor: SIGTERM (a graceful stop) when it dies.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != self_)
        std::_Exit(1); // the supervisor died before prctl
    if (link != worker_link_fd) {
        ::dup2(link, worker_link_fd);
        ::close(link);
    }
    // The signalfd, the other workers' links and the reserved port are the supervisor's.
    ::close_range(worker_link_fd + 1, ~0U, 0);
    // SIGTERM, SIGINT, SIGHUP and SIGUSR1 stay blocked until the worker catches them, first in
    // worker_main (catch_stop_signals_early): until then their default action would end it.
    sigset_t mask = previous_;
    for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1})
        sigaddset(&mask, signal);
    ::sigprocmask(SIG_SETMASK, &mask, nullptr);
    int code = 1;
    try {
        worker_link to_supervisor(worker_link_fd);
        code = worker_main_(to_supervisor);
    } catch (const std::exception& e) {
        spdlog::error("worker failed: {}", e.what());
    }
    std::fflush(nullptr);
    std::_Exit(code);
}

void supervisor::on_signals() {
    signalfd_siginfo info;
    while (::read(signals_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        switch (info.ssi_signo) {
        case SIGCHLD: {
            int status = 0;
            pid_t pid;
            while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0)
                on_exit(pid, status);
            break;
        }
        case SIGTERM:
        case SIGINT:
            if (signalled_) {
                stop_at_once(static_cast<int>(info.ssi_signo));
            } else {
                signalled_ = true;
                spdlog::info("signal {}: stopping {} workers (they get {} ms)", info.ssi_signo,
                             workers_.size(), options_.stop_timeout.count());
                begin_stop();
            }
            break;
        case SIGHUP:
            reload();
            break;
        case SIGUSR1: // logrotate's reopen: each worker reopens its own access log
            for (const auto& w : workers_)
                ::kill(w.pid, SIGUSR1);
            break;
        default:
            break;
        }
    }
}

void supervisor::on_exit(pid_t pid, int status) {
    worker* found = find(pid);
    if (!found)
        return;
    const worker gone = *found;
    if (gone.link >= 0)
        ::close(gone.link);
    workers_.remove_if([pid](const worker& w) { return w.pid == pid; });

    if (stopping_ || gone.stopping) {
        spdlog::info("worker {} {}", pid, describe(status));
        return;
    }
    if (!started_) {
        spdlog::error("worker {} {} before it was ready; stopping", pid, describe(status));
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
        failed_ = code == 0 ? 1 : code;
        begin_stop();
        return;
    }
    if (!gone.ready && gone.replaces != 0) {
        if (worker* old = find(gone.replaces)) {
            old->succeeded_by = false;
            spdlog::error("worker {} {} before it was ready; worker {} keeps serving", pid,
                          describe(status), gone.replaces);
            return;
        }
    }
    // A worker that was serving (or starting in place of one) died: start another, unless a
    // successor meant for it is already starting.
    for (auto& w : workers_)
        if (w.replaces == pid) {
            spdlog::error("worker {} {}; worker {} takes its place", pid, describe(status), w.pid);
            w.replaces = 0;
            return;
        }
    const auto now = clock_type::now();
    backoff_ = now - gone.started < quick_death
                   ? std::min(max_backoff, std::max(milliseconds(100), backoff_ * 2))
                   : milliseconds(0);
    spdlog::error("worker {} {}; starting another{}", pid, describe(status),
                  backoff_.count() > 0 ? fmt::format(" in {} ms", backoff_.count()) : "");
    ++restarts_due_;
    restart_at_ = now + backoff_;
}

void supervisor::on_messages(worker& w) {
    char messages[16];
    const ssize_t n = ::read(w.link, messages, sizeof messages);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) { // the worker closed its end: it is exiting, SIGCHLD follows
        ::close(w.link);
        w.link = -1;
        return;
    }
    for (ssize_t i = 0; i < n; ++i) {
        if (messages[i] == message_ready && !w.ready) {
            w.ready = true;
            on_ready(w);
        } else if (messages[i] == message_replace_me && !w.succeeded_by && !w.stopping &&
                   !stopping_) {
            spdlog::info("worker {} reached its request limit; replacing it", w.pid);
            replace(w);
        }
    }
}

void supervisor::on_ready(worker& w) {
    backoff_ = milliseconds(0);
    if (w.replaces != 0) {
        if (worker* old = find(w.replaces)) {
            spdlog::info("worker {} ready; stopping worker {}", w.pid, w.replaces);
            terminate(*old);
        }
        w.replaces = 0;
    }
    if (!started_ && !stopping_ && workers_.size() == options_.workers &&
        std::all_of(workers_.begin(), workers_.end(), [](const worker& x) { return x.ready; })) {
        started_ = true;
        if (on_started_)
            on_started_();
    }
}

void supervisor::replace(worker& w) {
    w.succeeded_by = true;
    spawn(w.pid);
}

// SIGTERM, and SIGKILL `stop_timeout` later (a worker drains, then exits on its own well
// before that). One rule for a stop and for each replacement (reload, request or memory limit).
void supervisor::terminate(worker& w) {
    if (w.stopping)
        return; // its deadline stays: never shortened, never put off
    w.stopping = true;
    w.kill_at = clock_type::now() + options_.stop_timeout;
    ::kill(w.pid, SIGTERM);
}

void supervisor::kill_overdue(clock_type::time_point now) {
    for (auto& w : workers_) {
        if (!w.stopping || w.killed || now < w.kill_at)
            continue;
        w.killed = true;
        spdlog::warn("worker {} did not stop within {} ms of its SIGTERM; killing it", w.pid,
                     options_.stop_timeout.count());
        ::kill(w.pid, SIGKILL);
    }
}

void supervisor::begin_stop() {
    stopping_ = true;
    restarts_due_ = 0;
    for (auto& w : workers_)
        terminate(w);
}

// A second SIGTERM or SIGINT: every worker is killed now, and the supervisor exits once they
// are reaped, with 128 + the signal number (what a shell reports for a process ended by it).
void supervisor::stop_at_once(int signal) {
    if (forced_)
        return;
    forced_ = 128 + signal;
    stopping_ = true;
    restarts_due_ = 0;
    spdlog::warn("signal {} while stopping: killing {} workers now, exiting with code {}", signal,
                 workers_.size(), *forced_);
    for (auto& w : workers_) {
        w.stopping = w.killed = true;
        ::kill(w.pid, SIGKILL);
    }
}

void supervisor::reload() {
    if (stopping_)
        return;
    if (!started_) {
        spdlog::warn("SIGHUP before every worker was ready: ignored");
        return;
    }
    std::vector<worker*> current;
    for (auto& w : workers_)
        if (!w.stopping && !w.succeeded_by && w.replaces == 0)
            current.push_back(&w);
    spdlog::info("SIGHUP: reloading: {} new workers replace the running ones as they get ready",
                 current.size());
    for (worker* w : current)
        replace(*w);
}

void supervisor::check_memory() {
    std::vector<worker*> over;
    for (auto& w : workers_) {
        if (!w.ready || w.stopping || w.succeeded_by)
            continue;
        const auto bytes = resident_bytes(w.pid);
        if (bytes > options_.max_worker_memory) {
            spdlog::warn("worker {} uses {} MiB, above the limit of {} MiB; replacing it", w.pid,
                         bytes >> 20, options_.max_worker_memory >> 20);
            over.push_back(&w);
        }
    }
    for (worker* w : over)
        replace(*w);
}

} // namespace

void worker_link::send(char message) const noexcept {
    while (::send(fd_, &message, 1, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
}

void worker_link::ready() const noexcept { send(message_ready); }

void worker_link::replace_me() const noexcept { send(message_replace_me); }

int supervise(const supervisor_options& options,
              const std::function<int(worker_link&)>& worker_main,
              const std::function<void()>& on_started) {
    return supervisor(options, worker_main, on_started).run();
}

} // namespace httpy
