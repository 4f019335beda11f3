#include "cli/supervisor.hpp"

#include "cli/metrics_merge.hpp"
#include "cli/source_watch.hpp"
#include "httpy/admin.hpp"
#include "httpy/config_error.hpp"
#include "httpy/metrics.hpp"
#include "httpy/router.hpp"
#include "httpy/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>
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

namespace net = boost::asio;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char message_ready = 'R';
constexpr char message_replace_me = 'M';
// Frames: the kind, the page's length (8 bytes, this machine's order), the page.
constexpr char message_page = 'P';       // an answer to a scrape request
constexpr char message_final_page = 'F'; // sent once the worker's server has stopped
constexpr std::size_t frame_head = 1 + sizeof(std::uint64_t);
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
    std::string inbox;         // bytes read from the link, not yet a whole message
    std::string last_page;     // its latest metrics page (Prometheus text), final or not
    bool page_fresh = false;   // last_page answers the scrape under way
    // Watches the link on the supervisor's io_context; releases the descriptor, never closes it.
    std::shared_ptr<net::posix::stream_descriptor> watch;
};

// Why a worker was replaced, as `httpy_worker_restarts_total` labels it.
constexpr std::array restart_reasons{"exited", "killed", "requests", "memory", "reload"};

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
    bool read_link(worker& w);
    void handle_inbox(worker& w);
    void close_link(worker& w);
    void watch_link(pid_t pid);
    void watch_signals();
    void on_ready(worker& w);
    void replace(worker& w, const char* reason);
    void start_admin();
    void start_source_watch();
    void watch_sources();
    void write_metrics(metrics_writer& out);
    void collect_pages(const std::vector<worker*>& asked);
    void write_own_metrics(metrics_writer& out) const;
    std::optional<std::string> not_ready() const;
    void terminate(worker& w);
    void kill_overdue(clock_type::time_point now);
    void begin_stop();
    void stop_at_once(int signal);
    void reload(const char* cause);
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
    // The loop waits on the io_context: the signalfd, the links and the admin listener.
    net::io_context ioc_;
    std::unique_ptr<net::posix::stream_descriptor> signal_watch_;
    router admin_routes_;
    std::unique_ptr<server> admin_;
    cli::metrics_merge retired_; // the counters of workers that have gone
    std::unique_ptr<cli::source_watch> sources_;
    std::unique_ptr<net::posix::stream_descriptor> sources_watch_; // on a dup of sources_->fd()
    net::steady_timer reload_after_{ioc_};
    std::map<std::string, std::uint64_t, std::less<>> restarts_;
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

    signal_watch_ = std::make_unique<net::posix::stream_descriptor>(ioc_, signals_);
    watch_signals();
    start_admin();
    start_source_watch();
    for (std::size_t i = 0; i < options_.workers; ++i)
        spawn(0);
    while (!(stopping_ && workers_.empty())) {
        // The signal watch is always pending, so the io_context never runs out of work.
        const int timeout = poll_timeout(clock_type::now());
        if (timeout < 0)
            ioc_.run_one();
        else
            ioc_.run_one_for(milliseconds(timeout));

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
    admin_.reset();
    sources_watch_.reset();
    signal_watch_.reset(); // closes signals_
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
    workers_.back().watch = std::make_shared<net::posix::stream_descriptor>(ioc_, link[0]);
    watch_link(pid);
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
            reload("SIGHUP");
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
    // What it wrote before it exited (its final metrics page, say) is all in the link now.
    while (found->link >= 0 && read_link(*found))
        handle_inbox(*found);
    close_link(*found);
    const worker gone = *found;
    if (!gone.last_page.empty())
        retired_.add_totals(cli::metrics_page::parse(gone.last_page));
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
    ++restarts_[WIFSIGNALED(status) ? "killed" : "exited"];
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
    if (read_link(w))
        handle_inbox(w);
}

// Reads what the link holds into the inbox. False when nothing came: the link would block, or
// the worker closed its end (it is exiting: SIGCHLD follows), which closes ours.
bool supervisor::read_link(worker& w) {
    char bytes[64 * 1024];
    const ssize_t n = ::recv(w.link, bytes, sizeof bytes, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return false;
    if (n <= 0) {
        close_link(w);
        return false;
    }
    w.inbox.append(bytes, static_cast<std::size_t>(n));
    return true;
}

// Acts on every whole message in the inbox; a page still arriving stays there.
void supervisor::handle_inbox(worker& w) {
    std::size_t at = 0;
    while (at < w.inbox.size()) {
        const char kind = w.inbox[at];
        if (kind == message_page || kind == message_final_page) {
            std::uint64_t length = 0;
            if (w.inbox.size() - at < frame_head)
                break;
            std::memcpy(&length, w.inbox.data() + at + 1, sizeof length);
            if (w.inbox.size() - at - frame_head < length)
                break;
            w.last_page.assign(w.inbox, at + frame_head, length);
            w.page_fresh = kind == message_page;
            at += frame_head + length;
            continue;
        }
        ++at;
        if (kind == message_ready && !w.ready) {
            w.ready = true;
            on_ready(w);
        } else if (kind == message_replace_me && !w.succeeded_by && !w.stopping && !stopping_) {
            spdlog::info("worker {} reached its request limit; replacing it", w.pid);
            replace(w, "requests");
        }
    }
    w.inbox.erase(0, at);
}

void supervisor::close_link(worker& w) {
    if (w.link < 0)
        return;
    if (w.watch) {
        w.watch->release(); // cancels its wait; the descriptor is closed here, once
        w.watch.reset();
    }
    ::close(w.link);
    w.link = -1;
}

void supervisor::watch_link(pid_t pid) {
    worker* w = find(pid);
    if (!w || !w->watch)
        return;
    w->watch->async_wait(net::posix::descriptor_base::wait_read,
                         [this, pid](boost::system::error_code ec) {
                             worker* found = find(pid);
                             if (ec || !found || found->link < 0)
                                 return;
                             on_messages(*found);
                             watch_link(pid);
                         });
}

void supervisor::watch_signals() {
    signal_watch_->async_wait(net::posix::descriptor_base::wait_read,
                              [this](boost::system::error_code ec) {
                                  if (ec)
                                      return;
                                  on_signals();
                                  watch_signals();
                              });
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

void supervisor::replace(worker& w, const char* reason) {
    ++restarts_[reason];
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

void supervisor::reload(const char* cause) {
    if (stopping_)
        return;
    if (!started_) {
        spdlog::warn("{} before every worker was ready: no reload", cause);
        return;
    }
    std::vector<worker*> current;
    for (auto& w : workers_)
        if (!w.stopping && !w.succeeded_by && w.replaces == 0)
            current.push_back(&w);
    spdlog::info("{}: reloading: {} new workers replace the running ones as they get ready", cause,
                 current.size());
    for (worker* w : current)
        replace(*w, "reload");
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
        replace(*w, "memory");
}

void supervisor::start_admin() {
    if (!options_.admin)
        return;
    admin_routes_ = admin_router({
        .metrics = [this](metrics_writer& out) { write_metrics(out); },
        .not_ready = [this] { return not_ready(); },
    });
    admin_ = std::make_unique<server>(ioc_, admin_routes_, *options_.admin);
    try {
        admin_->start();
    } catch (const boost::system::system_error& e) {
        throw config_error("cannot listen on the admin address " + options_.admin->host + ":" +
                           std::to_string(options_.admin->port) + ": " + e.code().message());
    }
    spdlog::info("admin listener on http://{}:{} (/metrics of every worker, /healthz, /readyz)",
                 options_.admin->host, admin_->port());
}

void supervisor::start_source_watch() {
    if (options_.watch_sources.empty())
        return;
    sources_ = std::make_unique<cli::source_watch>(options_.watch_sources);
    sources_watch_ = std::make_unique<net::posix::stream_descriptor>(ioc_, ::dup(sources_->fd()));
    spdlog::info("watching {} folders under {} for changes to .py files", sources_->folders(),
                 options_.watch_sources);
    watch_sources();
}

// A burst of changes (an editor's save, a checkout) reloads once, 200 ms after the last.
void supervisor::watch_sources() {
    sources_watch_->async_wait(net::posix::descriptor_base::wait_read,
                               [this](boost::system::error_code ec) {
                                   if (ec)
                                       return;
                                   if (sources_->changed()) {
                                       reload_after_.expires_after(milliseconds(200));
                                       reload_after_.async_wait([this](boost::system::error_code e) {
                                           if (!e)
                                               reload("a Python source changed");
                                       });
                                   }
                                   watch_sources();
                               });
}

std::optional<std::string> supervisor::not_ready() const {
    if (stopping_)
        return "draining: the server is stopping";
    const bool serving = std::any_of(workers_.begin(), workers_.end(),
                                     [](const worker& w) { return w.ready && !w.stopping; });
    if (!serving)
        return "no worker is ready";
    return std::nullopt;
}

// A scrape: every ready worker is asked for its page, and the pages are merged with what the
// workers that have gone counted. It blocks the supervisor's loop for at most scrape_timeout.
void supervisor::write_metrics(metrics_writer& out) {
    std::vector<worker*> asked;
    for (auto& w : workers_) {
        w.page_fresh = false;
        if (w.link >= 0 && w.ready &&
            ::send(w.link, &worker_link::scrape_request, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
            asked.push_back(&w);
    }
    collect_pages(asked);
    cli::metrics_merge merged = retired_;
    for (const auto& w : workers_) {
        if (w.last_page.empty())
            continue;
        const auto page = cli::metrics_page::parse(w.last_page);
        if (w.page_fresh)
            merged.add_live(std::to_string(w.pid), page);
        else
            merged.add_totals(page); // no answer: its counters as last seen, no gauges
    }
    metrics_writer own(metrics_format::prometheus);
    write_process_metrics(own);
    merged.add_live("supervisor", cli::metrics_page::parse(std::move(own).finish()));
    merged.write(out);
    write_own_metrics(out);
}

void supervisor::collect_pages(const std::vector<worker*>& asked) {
    const auto deadline = clock_type::now() + options_.scrape_timeout;
    for (;;) {
        std::vector<pollfd> fds;
        std::vector<worker*> owners;
        for (worker* w : asked)
            if (w->link >= 0 && !w->page_fresh) {
                fds.push_back({w->link, POLLIN, 0});
                owners.push_back(w);
            }
        const auto left = std::chrono::ceil<milliseconds>(deadline - clock_type::now()).count();
        if (fds.empty() || left <= 0)
            return;
        const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left));
        if (n < 0 && errno != EINTR)
            return;
        for (std::size_t i = 0; n > 0 && i < fds.size(); ++i)
            if (fds[i].revents != 0 && read_link(*owners[i]))
                handle_inbox(*owners[i]);
    }
}

void supervisor::write_own_metrics(metrics_writer& out) const {
    out.gauge("httpy_workers", "Worker processes, by state.");
    std::map<std::string_view, std::uint64_t> states{{"ready", 0}, {"starting", 0},
                                                     {"stopping", 0}};
    for (const auto& w : workers_)
        ++states[w.stopping ? "stopping" : w.ready ? "ready" : "starting"];
    for (const auto& [state, count] : states)
        out.value(label_set().add("state", state), count);
    out.counter("httpy_worker_restarts",
                "Workers replaced, by reason: exited or killed unexpectedly, request limit, "
                "memory limit, reload.");
    for (const char* reason : restart_reasons) {
        const auto it = restarts_.find(reason);
        out.value(label_set().add("reason", reason),
                  it == restarts_.end() ? std::uint64_t{0} : it->second);
    }
}

} // namespace

void worker_link::send(std::string_view bytes) const noexcept {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; // the supervisor has gone
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

void worker_link::send_page(char kind, std::string_view page) const noexcept {
    char head[frame_head];
    head[0] = kind;
    const std::uint64_t length = page.size();
    std::memcpy(head + 1, &length, sizeof length);
    std::lock_guard lock(mu_);
    send({head, sizeof head});
    send(page);
}

void worker_link::ready() const noexcept {
    std::lock_guard lock(mu_);
    send({&message_ready, 1});
}

void worker_link::replace_me() const noexcept {
    std::lock_guard lock(mu_);
    send({&message_replace_me, 1});
}

void worker_link::send_metrics(std::string_view page) const noexcept {
    send_page(message_page, page);
}

void worker_link::send_final_metrics(std::string_view page) const noexcept {
    send_page(message_final_page, page);
}

int supervise(const supervisor_options& options,
              const std::function<int(worker_link&)>& worker_main,
              const std::function<void()>& on_started) {
    return supervisor(options, worker_main, on_started).run();
}

} // namespace httpy
