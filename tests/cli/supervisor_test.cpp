// The supervisor with workers that are plain C++ functions (no Python): forked as the real ones
// are, they report what happened to them through memory shared with the test process, since the
// supervisor closes every descriptor above the link in a worker.
#include "cli/supervisor.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <thread>

#include <sys/mman.h>
#include <unistd.h>

using namespace std::chrono_literals;
using httpy::supervise;
using httpy::supervisor_options;
using httpy::worker_link;

namespace {

constexpr int max_starts = 32;

// What the workers report. Lock-free atomics in a MAP_SHARED mapping work across processes.
struct report {
    std::atomic<int> starts{0};       // workers started so far; a worker's number is its start
    std::atomic<int> sequence{0};     // orders events across processes
    std::atomic<int> terminated{0};   // workers that got SIGTERM
    std::atomic<std::int64_t> started_at[max_starts]{}; // steady_clock ns, by worker number
    std::atomic<int> ready_seq[max_starts]{};
    std::atomic<int> term_seq[max_starts]{};
    std::atomic<int> pid[max_starts]{};
    std::atomic<int> stop_sent_seq{0};
    std::atomic<int> failed_successor_exited{0};
};
static_assert(std::atomic<int>::is_always_lock_free);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

report* shared = nullptr; // set in each test (and inherited by the workers)
int worker_number = 0;    // in a worker: its number (1 for the first start)

// A fresh report in memory the workers share; unmapped at the end of the test.
class shared_report {
public:
    shared_report() {
        void* p = ::mmap(nullptr, sizeof(report), PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        REQUIRE(p != MAP_FAILED);
        shared = new (p) report();
        // A supervisor that never returns must fail the test, not hang the run.
        ::alarm(60);
    }
    ~shared_report() {
        ::alarm(0);
        shared->~report();
        ::munmap(shared, sizeof(report));
        shared = nullptr;
    }
    report* operator->() const { return shared; }
};

void on_sigterm(int) {
    shared->term_seq[worker_number] = ++shared->sequence;
    ++shared->terminated;
    ::_exit(0);
}

// The start of every test worker: counts itself and takes SIGTERM as a graceful stop (recorded,
// exit 0). Returns the worker's number.
int begin_worker() {
    worker_number = ++shared->starts;
    if (worker_number >= max_starts)
        std::_Exit(99); // a runaway restart loop: the counts show it
    shared->started_at[worker_number] =
        std::chrono::steady_clock::now().time_since_epoch().count();
    shared->pid[worker_number] = static_cast<int>(::getpid());
    std::signal(SIGTERM, on_sigterm);
    // Workers start with the stop signals blocked (see supervise); this one catches SIGTERM now.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (int signal : {SIGTERM, SIGINT, SIGHUP})
        sigaddset(&stop_signals, signal);
    ::sigprocmask(SIG_UNBLOCK, &stop_signals, nullptr);
    return worker_number;
}

void ready(worker_link& link) {
    shared->ready_seq[worker_number] = ++shared->sequence;
    link.ready();
}

// Serving, as far as the supervisor can tell: waits for SIGTERM (at most 30 s).
int serve_until_stopped() {
    for (int i = 0; i < 3000; ++i)
        std::this_thread::sleep_for(10ms);
    return 9; // never stopped: shows in the supervisor's log
}

// Asks the supervisor (the test process) to stop everything.
void stop_supervisor() {
    shared->stop_sent_seq = ++shared->sequence;
    ::kill(::getppid(), SIGTERM);
}

// Waits (at most 10 s) until `condition` holds, in a worker.
template <class Condition>
bool wait_in_worker(Condition condition) {
    for (int i = 0; i < 1000 && !condition(); ++i)
        std::this_thread::sleep_for(10ms);
    return condition();
}

bool process_gone(int pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

supervisor_options with_workers(std::size_t n) {
    supervisor_options o;
    o.workers = n;
    o.stop_timeout = 10s;
    return o;
}

} // namespace

TEST_CASE("SIGTERM stops every worker gracefully and supervise returns 0") {
    shared_report r;
    int started_calls = 0;
    const int code = supervise(
        with_workers(3),
        [](worker_link& link) {
            begin_worker();
            ready(link);
            return serve_until_stopped();
        },
        [&] {
            ++started_calls;
            CHECK(r->starts == 3);
            ::kill(::getpid(), SIGTERM); // as an operator would
        });
    CHECK(code == 0);
    CHECK(started_calls == 1);
    CHECK(r->starts == 3);
    CHECK(r->terminated == 3);
    for (int n = 1; n <= 3; ++n)
        CHECK(process_gone(r->pid[n]));
}

TEST_CASE("on_started is called only once every first worker is ready") {
    shared_report r;
    int ready_when_started = -1;
    const int code = supervise(
        with_workers(2),
        [](worker_link& link) {
            // The second to start is ready only a while after the first.
            if (begin_worker() == 2)
                std::this_thread::sleep_for(200ms);
            ready(link);
            return serve_until_stopped();
        },
        [&] {
            ready_when_started = (r->ready_seq[1] != 0) + (r->ready_seq[2] != 0);
            ::kill(::getpid(), SIGTERM);
        });
    CHECK(code == 0);
    CHECK(ready_when_started == 2);
}

TEST_CASE("a worker that dies after it was ready is started again") {
    shared_report r;
    int started_calls = 0;
    const int code = supervise(
        with_workers(1),
        [](worker_link& link) {
            const int n = begin_worker();
            ready(link);
            if (n == 1)
                return 3; // dies while serving
            stop_supervisor();
            return serve_until_stopped();
        },
        [&] { ++started_calls; });
    CHECK(code == 0);
    CHECK(started_calls == 1);
    CHECK(r->starts == 2);
    CHECK(r->term_seq[1] == 0); // it died on its own
    CHECK(r->term_seq[2] > r->stop_sent_seq);
}

TEST_CASE("a worker killed by a signal is started again") {
    shared_report r;
    const int code = supervise(
        with_workers(1),
        [](worker_link& link) {
            const int n = begin_worker();
            ready(link);
            if (n == 1)
                ::kill(::getpid(), SIGKILL);
            stop_supervisor();
            return serve_until_stopped();
        },
        {});
    CHECK(code == 0);
    CHECK(r->starts == 2);
}

TEST_CASE("replacements that die before they are ready are started after longer and longer "
          "pauses") {
    shared_report r;
    const int code = supervise(
        with_workers(1),
        [](worker_link& link) {
            const int n = begin_worker();
            if (n == 1) {
                ready(link); // the first start succeeds, so the supervisor restarts what dies
                return 1;
            }
            if (n < 5)
                return 1; // dies at once, before it is ready
            ready(link);
            stop_supervisor();
            return serve_until_stopped();
        },
        {});
    CHECK(code == 0);
    REQUIRE(r->starts == 5);
    // The pause doubles from 100 ms: 100, 200, 400, 800 ms before starts 2 to 5. Lower bounds
    // only: a busy machine makes pauses longer, never shorter.
    auto gap = [&](int n) {
        return std::chrono::nanoseconds(r->started_at[n] - r->started_at[n - 1]);
    };
    CHECK(gap(2) >= 100ms);
    CHECK(gap(3) >= 200ms);
    CHECK(gap(4) >= 400ms);
    CHECK(gap(5) >= 800ms);
}

TEST_CASE("a worker that fails before it is ready during the first start ends supervise with "
          "its exit code, and the other workers are stopped") {
    shared_report r;
    bool started = false;
    const int code = supervise(
        with_workers(2),
        [](worker_link& link) {
            if (begin_worker() == 1) {
                // Once the other has begun (a loaded machine may fork it late): then its stop
                // is what the test sees, not a worker stopped before it ran.
                for (int i = 0; i < 500 && shared->pid[2] == 0; ++i)
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
                return 7; // a bad app, say
            }
            ready(link);
            return serve_until_stopped();
        },
        [&] { started = true; });
    CHECK(code == 7);
    CHECK_FALSE(started);
    CHECK(r->starts == 2);
    CHECK(process_gone(r->pid[2]));
}

TEST_CASE("a worker killed or exiting 0 before it is ready during the first start gives 1") {
    for (const bool killed : {true, false}) {
        CAPTURE(killed);
        shared_report r;
        const int code = supervise(
            with_workers(1),
            [killed](worker_link&) {
                begin_worker();
                if (killed)
                    ::kill(::getpid(), SIGKILL);
                return 0;
            },
            {});
        CHECK(code == 1);
        CHECK(r->starts == 1); // no restart during the first start
    }
}

TEST_CASE("a worker that ignores SIGTERM is killed after stop_timeout") {
    shared_report r;
    supervisor_options options = with_workers(1);
    options.stop_timeout = 300ms;
    std::chrono::steady_clock::time_point stop_at;
    const int code = supervise(
        options,
        [](worker_link& link) {
            begin_worker();
            std::signal(SIGTERM, SIG_IGN);
            ready(link);
            return serve_until_stopped();
        },
        [&] {
            stop_at = std::chrono::steady_clock::now();
            ::kill(::getpid(), SIGTERM);
        });
    const auto took = std::chrono::steady_clock::now() - stop_at;
    CHECK(code == 0);
    CHECK(took >= 300ms); // not killed before its time is up
    CHECK(took < 25s);    // killed, not waited for (it would serve 30 s)
    CHECK(process_gone(r->pid[1]));
}

TEST_CASE("a worker asking to be replaced is stopped only once its successor is ready") {
    shared_report r;
    int started_calls = 0;
    const int code = supervise(
        with_workers(1),
        [](worker_link& link) {
            const int n = begin_worker();
            ready(link);
            if (n == 1) {
                link.replace_me();
                return serve_until_stopped();
            }
            // The successor: once its predecessor has stopped, the test is over.
            wait_in_worker([] { return shared->terminated >= 1; });
            stop_supervisor();
            return serve_until_stopped();
        },
        [&] { ++started_calls; });
    CHECK(code == 0);
    CHECK(started_calls == 1);
    CHECK(r->starts == 2);
    REQUIRE(r->term_seq[1] != 0);
    CHECK(r->ready_seq[2] < r->term_seq[1]);   // the successor was ready first
    CHECK(r->term_seq[1] < r->stop_sent_seq);  // stopped as replaced, not by the final stop
}

TEST_CASE("SIGHUP replaces every worker, each old one stopped once the new ones are ready") {
    shared_report r;
    const int code = supervise(
        with_workers(2),
        [](worker_link& link) {
            const int n = begin_worker();
            ready(link);
            if (n <= 2)
                return serve_until_stopped();
            if (n == 4) {
                wait_in_worker([] { return shared->terminated >= 2; });
                stop_supervisor();
            }
            return serve_until_stopped();
        },
        [] { ::kill(::getpid(), SIGHUP); });
    CHECK(code == 0);
    CHECK(r->starts == 4);
    const int first_new_ready = std::min(r->ready_seq[3].load(), r->ready_seq[4].load());
    for (int old = 1; old <= 2; ++old) {
        CAPTURE(old);
        REQUIRE(r->term_seq[old] != 0);
        CHECK(r->term_seq[old] > first_new_ready);
        CHECK(r->term_seq[old] < r->stop_sent_seq);
    }
    CHECK(r->terminated == 4);
}

TEST_CASE("when a reload's new worker fails before it is ready, the old worker keeps serving") {
    shared_report r;
    const int code = supervise(
        with_workers(1),
        [](worker_link& link) {
            const int n = begin_worker();
            if (n == 2) {
                shared->failed_successor_exited = ++shared->sequence;
                return 5; // the reloaded app is broken
            }
            ready(link);
            // The old worker: a while after the successor failed, it is still serving.
            wait_in_worker([] { return shared->failed_successor_exited != 0; });
            std::this_thread::sleep_for(300ms);
            stop_supervisor();
            return serve_until_stopped();
        },
        [] { ::kill(::getpid(), SIGHUP); });
    CHECK(code == 0); // the failed successor does not end the supervisor
    CHECK(r->starts == 2);
    CHECK(r->term_seq[1] > r->stop_sent_seq); // stopped by the final stop only
}

TEST_CASE("a worker over max_worker_memory is replaced by a successor") {
    shared_report r;
    supervisor_options options = with_workers(1);
    options.max_worker_memory = 1; // every worker is over it
    options.check_interval = 500ms;
    const int code = supervise(
        options,
        [](worker_link& link) {
            const int n = begin_worker();
            ready(link);
            // A successor ends the test once the first worker is gone (every worker is over the
            // limit, so a third may replace the second meanwhile on a slow machine).
            if (n >= 2 && wait_in_worker([] { return shared->terminated >= 1; }))
                stop_supervisor();
            return serve_until_stopped();
        },
        {});
    CHECK(code == 0);
    CHECK(r->starts >= 2);
    REQUIRE(r->term_seq[1] != 0);
    CHECK(r->ready_seq[2] < r->term_seq[1]);
}
