// Leak freedom, measured: every path a request can take through httpy (app -> executor ->
// marshal in -> Python handler -> marshal out -> response) leaves Python's allocated blocks,
// and on a debug CPython its total reference count, flat however many requests go through.
#include <pybind11/embed.h>

#include "httpy/app.hpp"
#include "httpy/body_file.hpp"
#include "httpy/body_stream.hpp"
#include "httpy/call_error.hpp"

#include "core/spool_file.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_future.hpp>
#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace py = pybind11;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

// Requests per path. Each leak check runs its calls after a warm-up (caches, free lists, lazy
// imports and interned strings settle there), and the tolerances below do not grow with the
// number of calls: leaking one object per call fails every reference count check (see below for
// the blocks).
constexpr int echo_calls = 17'700;
constexpr int raise_calls = 10'000;
// Each formats a traceback of ~1,000 frames for the log (tens of ms): fewer calls.
constexpr int recursion_calls = 200;
constexpr int wrong_shape_calls_each = 1'000; // times 19 kinds
constexpr int wrong_shape_kinds = 19;
constexpr int binary_body_calls_each = 2'500; // times 4 kinds
constexpr int async_echo_calls = 8'000;
constexpr int async_raise_calls = 2'000;
constexpr int async_stream_calls = 600; // an async generator body, pulled to its end
constexpr int timeout_calls = 600; // each costs the handler timeout (and a GIL hand-over)
constexpr int async_timeout_calls = 1'000;
constexpr int overload_rounds = 5;
constexpr int overload_calls_each_round = 2'680;
constexpr int wsgi_calls_each = 1'000; // times 12 kinds
constexpr int wsgi_kinds = 12;
constexpr int asgi_calls_each = 500; // times 10 kinds
constexpr int asgi_kinds = 10;
constexpr int asgi_left_calls = 500; // told that the client has gone (total cancellation)
static_assert(echo_calls + raise_calls + recursion_calls + wrong_shape_calls_each * wrong_shape_kinds +
                  binary_body_calls_each * 4 + async_echo_calls + async_raise_calls +
                  async_stream_calls +
                  timeout_calls + async_timeout_calls +
                  overload_rounds * overload_calls_each_round + wsgi_calls_each * wsgi_kinds +
                  asgi_calls_each * asgi_kinds + asgi_left_calls ==
              100'000);

constexpr long long max_refcount_growth = 100;
// Blocks drift by up to ~550 on the raise paths with the reference count flat (caches and free
// lists that hold no references; WSGI's exc_info re-raise is the largest, on every build), so a
// leak of one object per call shows in the blocks only where a check makes 1,000 calls or more;
// the reference count on the debug CPython (scripts/test) is the exact check everywhere.
constexpr long long max_block_growth = 700;
// Calls in flight at once when a batch is submitted (below the default queue limit of 1024).
constexpr int batch_size = 500;

// Every app here runs coroutines on asyncio's own loop, whatever `auto` would pick: Debian's
// uvloop 0.17 grows the total reference count of the debug CPython by about 31 per task it
// runs, without httpy (a bare uvloop loop awaiting tasks of `async def f(): pass` shows it),
// which would hide any leak of httpy's own behind it. httpy's side of a call is the same code
// on either loop.
httpy::app make_app(std::string function, httpy::executor_options options = {}) {
    options.event_loop = httpy::loop_kind::asyncio;
    return httpy::app({.handler = {HTTPY_TEST_DATA "/leak_handlers.py", std::move(function)},
                       .python = options});
}

httpy::app make_asgi_app() {
    return httpy::app({.handler = {HTTPY_TEST_DATA "/asgi_leak_app.py", "app"},
                       .interface = httpy::app_interface::asgi,
                       .python = {.threads = 1, .event_loop = httpy::loop_kind::asyncio}});
}

// A typical request: a path parameter, three query keys with repeated values, six headers,
// unicode and invalid UTF-8 everywhere, and a small binary body with a NUL.
httpy::request typical_request(std::string path = "/items/42/caf\xc3\xa9") {
    return {"POST",
            std::move(path),
            {{"id", {"42"}}},
            {{"q", {"caf\xc3\xa9", "a b"}}, {"raw", {"\xff\xfe", "\x80"}}, {"empty", {""}}},
            {{"Host", {"example.com"}},
             {"User-Agent", {"leak-test/1.0"}},
             {"Accept", {"*/*", "text/html"}},
             {"Content-Type", {"application/octet-stream"}},
             {"X-Unicode", {"h\xc3\xa9llo \xe2\x9c\x93"}},
             {"X-Raw", {"\xfe\xff bytes"}}},
            "bin\0ary \xff\x80 caf\xc3\xa9 \x01\x02"s};
}

// Python's own counts, read with the GIL held after a full collection.
struct python_counts {
    long long refs = 0; // sys.gettotalrefcount(); 0 on a release CPython
    long long blocks = 0;

    static python_counts read() {
        py::gil_scoped_acquire gil;
        py::module_::import("gc").attr("collect")();
        const auto sys = py::module_::import("sys");
        python_counts counts;
        if (py::hasattr(sys, "gettotalrefcount"))
            counts.refs = sys.attr("gettotalrefcount")().cast<long long>();
        counts.blocks = sys.attr("getallocatedblocks")().cast<long long>();
        return counts;
    }

    // The counts once the last calls' objects are released: an asyncio task is let go on the
    // event loop's thread after its result was delivered. Reads until two reads 20 ms apart
    // agree (at most 2 s).
    static python_counts settled() {
        auto last = read();
        for (int i = 0; i < 100; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            const auto now = read();
            if (now.refs == last.refs && now.blocks == last.blocks)
                break;
            last = now;
        }
        return last;
    }
};

bool python_is_debug() {
    py::gil_scoped_acquire gil;
    return py::hasattr(py::module_::import("sys"), "gettotalrefcount");
}

// What a set of calls completed with: (call_error value, status) -> count.
struct outcomes {
    std::map<std::pair<int, int>, int> counts;

    int count(httpy::call_error e, int status) const { return find(static_cast<int>(e), status); }

    // "error/status: count" for each outcome, for failure messages.
    std::string describe() const {
        std::string text;
        for (const auto& [outcome, n] : counts)
            text += std::to_string(outcome.first) + "/" + std::to_string(outcome.second) + ": " +
                    std::to_string(n) + "; ";
        return text;
    }
    int count_ok() const { return find(0, 200); }

private:
    int find(int error, int status) const {
        auto it = counts.find({error, status});
        return it == counts.end() ? 0 : it->second;
    }
};

// Calls submitted together and waited for together.
class batch {
public:
    // Submits `req` to `a`; its outcome is counted when the call completes.
    void submit(httpy::app& a, httpy::request req) {
        {
            std::lock_guard lock(mu_);
            ++pending_;
        }
        a.async_request(std::move(req), [this](httpy::call_result r) {
            std::lock_guard lock(mu_);
            ++done_.counts[{r.error.value(), r.resp.status}];
            if (--pending_ == 0)
                idle_.notify_all();
        });
    }

    // Waits for every call submitted so far and returns what they all completed with.
    outcomes wait() {
        std::unique_lock lock(mu_);
        idle_.wait(lock, [this] { return pending_ == 0; });
        return done_;
    }

private:
    std::mutex mu_;
    std::condition_variable idle_;
    int pending_ = 0;
    outcomes done_;
};

// Sends `count` calls cycling through `requests`, `batch_size` in flight at a time.
outcomes run_calls(httpy::app& a, const std::vector<httpy::request>& requests, int count) {
    batch b;
    for (int sent = 0; sent < count;) {
        const int batch_end = std::min(count, sent + batch_size);
        for (; sent < batch_end; ++sent)
            b.submit(a, requests[static_cast<std::size_t>(sent) % requests.size()]);
        b.wait();
    }
    return b.wait();
}

// Checks that all `n` calls completed with `e` and `status` (0 and 200: the handler's own).
void check_all(const outcomes& got, int n, httpy::call_error e, int status) {
    INFO("outcomes (call_error/status: count): " << got.describe());
    CHECK(got.count(e, status) == n);
}

void check_all_ok(const outcomes& got, int n) {
    INFO("outcomes (call_error/status: count): " << got.describe());
    CHECK(got.count_ok() == n);
}

// Runs `run(warmup)`, then checks that `run(calls)` leaves Python's counts flat.
template <class Run>
void check_flat(const std::string& what, int warmup, int calls, Run&& run) {
    run(warmup);
    const auto before = python_counts::read();
    const auto start = std::chrono::steady_clock::now();
    run(calls);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    const auto after = python_counts::settled();
    const long long refs = after.refs - before.refs;
    const long long blocks = after.blocks - before.blocks;
    MESSAGE(what << ": " << calls << " calls in " << elapsed.count() << " s; refcount delta "
                 << (python_is_debug() ? std::to_string(refs) : "n/a") << ", blocks delta "
                 << blocks);
    CAPTURE(what);
    CHECK(blocks < max_block_growth);
    if (python_is_debug())
        CHECK(refs < max_refcount_growth);
}

// Turns spdlog off for the error paths (one log entry per failing call), then restores it.
class quiet_logs {
public:
    quiet_logs() : saved_(spdlog::get_level()) { spdlog::set_level(spdlog::level::off); }
    ~quiet_logs() { spdlog::set_level(saved_); }
    quiet_logs(const quiet_logs&) = delete;
    quiet_logs& operator=(const quiet_logs&) = delete;

private:
    spdlog::level::level_enum saved_;
};

} // namespace

TEST_CASE("echoing a typical request leaks nothing") {
    auto a = make_app("echo");
    const auto req = typical_request();
    const auto r = a.call(req);
    REQUIRE(r.resp.status == 200);
    CHECK(r.resp.body == req.body);
    CHECK(*r.resp.headers.find("X-Path") == httpy::fields::value_list{req.path});
    CHECK(*r.resp.headers.find("X-Param-id") == httpy::fields::value_list{"42"});
    CHECK(*r.resp.headers.find("X-Query-raw") == httpy::fields::value_list{"\xff\xfe", "\x80"});
    CHECK(*r.resp.headers.find("X-Header-Accept") == httpy::fields::value_list{"*/*", "text/html"});
    CHECK(*r.resp.headers.find("X-Header-X-Raw") == httpy::fields::value_list{"\xfe\xff bytes"});

    check_flat("echo", 2'000, echo_calls, [&](int n) {
        check_all_ok(run_calls(a, {req}, n), n);
    });
}

TEST_CASE("a handler that raises leaks nothing, whatever it raises") {
    const quiet_logs quiet;
    auto a = make_app("raises");
    const std::vector requests{typical_request("/plain"),  typical_request("/chained"),
                               typical_request("/unprintable"), typical_request("/memory"),
                               typical_request("/exit"),   typical_request("/interrupt")};
    check_flat("raises", 5'000, raise_calls, [&](int n) {
        check_all(run_calls(a, requests, n), n, httpy::call_error::handler_failed, 500);
    });
}

TEST_CASE("a handler failing with RecursionError leaks nothing") {
    const quiet_logs quiet;
    auto a = make_app("raises");
    const std::vector requests{typical_request("/recursion")};
    check_flat("recursion", 50, recursion_calls, [&](int n) {
        check_all(run_calls(a, requests, n), n, httpy::call_error::handler_failed, 500);
    });
}

TEST_CASE("a handler returning the wrong shape leaks nothing, whatever the shape") {
    const quiet_logs quiet;
    auto a = make_app("wrong_shape", {.max_response_bytes = 2048});
    const char* const kinds[] = {
        "/int-header",   "/crlf-header", "/nul-header",  "/surrogate-header", "/bad-name",
        "/int-name",     "/header-dict", "/headers-list", "/generator",       "/short-tuple",
        "/bool-status",  "/huge-status", "/body-type",   "/surrogate-body",   "/bad-sequence",
        "/bad-length",   "/none",        "/over-limit-bytes", "/over-limit-str",
    };
    static_assert(std::size(kinds) == wrong_shape_kinds);
    for (const char* kind : kinds) {
        const std::vector requests{typical_request(kind)};
        check_flat(std::string("wrong shape ") + kind, 300, wrong_shape_calls_each, [&](int n) {
            check_all(run_calls(a, requests, n), n, httpy::call_error::handler_failed, 500);
        });
    }
}

TEST_CASE("bytes, bytearray and memoryview bodies leak nothing") {
    auto a = make_app("binary_body");
    const auto body = typical_request().body;
    std::string every_other; // what memoryview(data)[::2] holds
    for (std::size_t i = 0; i < body.size(); i += 2)
        every_other += body[i];
    const std::pair<const char*, std::string> kinds[] = {
        {"/bytes", body}, {"/bytearray", body}, {"/memoryview", body}, {"/strided", every_other}};
    for (const auto& [kind, expected_body] : kinds) {
        const std::vector requests{typical_request(kind)};
        const auto r = a.call(requests.front());
        REQUIRE(r.resp.status == 200);
        CHECK(r.resp.body == expected_body);
        check_flat(std::string("body ") + kind, 500, binary_body_calls_each, [&](int n) {
            check_all_ok(run_calls(a, requests, n), n);
        });
    }
}

namespace {

// The whole body of a response, its stream pulled to the end (or to its failure, which
// then counts as the result's), or only its first chunk with `first_only` (the stream is then
// dropped: its close() runs on the executor).
httpy::call_result drain(httpy::call_result r, bool first_only = false) {
    while (r.resp.stream && !r.error) {
        auto next = r.resp.stream->async_next(boost::asio::use_future).get();
        if (next.error) {
            r.error = next.error;
            break;
        }
        if (next.resp.body.empty())
            break;
        r.resp.body += next.resp.body;
        if (first_only)
            break;
    }
    r.resp.stream.reset();
    return r;
}

// One way a response can go through an app (WSGI, ASGI): the request path that takes it and
// what it answers.
struct path_kind {
    const char* path;
    int status;
    bool failed; // the call's error is set (a 500 of the executor's, or a cut stream)
    bool first_only; // the client takes the first chunk only, then drops the stream
    bool spooled = false; // the request body comes from a spool file
};

// The typical request on `k`'s path, its body spooled when `k` says so.
httpy::request request_for(const path_kind& k) {
    auto req = typical_request(k.path);
    if (k.spooled) {
        httpy::detail::spool_file spool;
        REQUIRE(spool.append(req.body));
        req.body_spool = spool.release();
        req.body.clear();
    }
    return req;
}

// Checks each kind's first answer, then that `calls` more leave Python's counts flat.
template <std::size_t N>
void check_paths_flat(httpy::app& a, const char* interface, const path_kind (&kinds)[N], int calls) {
    for (const auto& k : kinds) {
        const auto req = request_for(k);
        const auto first = drain(a.call(req), k.first_only);
        const std::string path = std::string(k.path) + (k.spooled ? " (spooled body)" : "");
        CAPTURE(path);
        REQUIRE(first.resp.status == k.status);
        CHECK(static_cast<bool>(first.error) == k.failed);
        if (k.spooled && !first.error)
            CHECK(first.resp.body.find(typical_request().body) == 0);
        check_flat(std::string(interface) + " " + path, 100, calls, [&](int n) {
            for (int i = 0; i < n; ++i) {
                const auto r = drain(a.call(req), k.first_only);
                REQUIRE(r.resp.status == k.status);
            }
        });
    }
}

} // namespace

TEST_CASE("an async def handler leaks nothing, answering or raising") {
    auto echo = make_app("async_echo");
    const auto req = typical_request();
    const auto r = echo.call(req);
    REQUIRE(r.resp.status == 200);
    CHECK(r.resp.body == req.body);
    check_flat("async echo", 2'000, async_echo_calls, [&](int n) {
        check_all_ok(run_calls(echo, {req}, n), n);
    });

    const quiet_logs quiet;
    auto failing = make_app("async_raises");
    check_flat("async raises", 500, async_raise_calls, [&](int n) {
        check_all(run_calls(failing, {req}, n), n, httpy::call_error::handler_failed, 500);
    });
}

TEST_CASE("an async generator body leaks nothing") {
    auto streamed = make_app("async_stream");
    const auto req = typical_request();
    REQUIRE(drain(streamed.call(req)).resp.body == "one" + req.body);
    check_flat("async stream", 100, async_stream_calls, [&](int n) {
        for (int i = 0; i < n; ++i) {
            const auto r = drain(streamed.call(req));
            REQUIRE_FALSE(r.error);
            REQUIRE(r.resp.body.size() == 3 + req.body.size());
        }
    });
}

TEST_CASE("a handler interrupted by its timeout leaks nothing") {
    const quiet_logs quiet;
    // One thread: the next call waits until TimeoutError has ended the previous spin.
    auto a = make_app("spin", {.threads = 1, .handler_timeout = 5ms});
    const auto req = typical_request("/spin");
    const auto count = typical_request("/count");
    constexpr int warmup = 50;
    check_flat("timeout", warmup, timeout_calls, [&](int n) {
        int timed_out = 0;
        for (int i = 0; i < n; ++i) {
            const auto r = a.call(req);
            timed_out += r.error == httpy::call_error::timed_out && r.resp.status == 504;
        }
        CHECK(timed_out == n);
        CHECK(a.call(count).resp.status == 200); // the last spin has ended
    });
    // Nearly every spin ended by TimeoutError (one raised before the `try` is not counted).
    const int interrupted = std::stoi(a.call(count).resp.body);
    CHECK(interrupted >= (warmup + timeout_calls) / 2);
}

TEST_CASE("an async def handler cancelled by its timeout leaks nothing") {
    const quiet_logs quiet;
    // Well above the GIL's 5 ms switch interval, so that the thread starting the coroutine
    // never runs past the timeout itself while waiting for the GIL.
    auto a = make_app("async_forever", {.threads = 1, .handler_timeout = 100ms});
    const std::vector requests{typical_request()};
    // The warm-up fills the event loop's timer heap as high as a full batch does.
    const auto active = typical_request("/active");
    check_flat("async timeout", 2 * batch_size, async_timeout_calls, [&](int n) {
        check_all(run_calls(a, requests, n), n, httpy::call_error::timed_out, 504);
        // Every cancelled coroutine has unwound (none is left on the event loop).
        std::string waiting;
        for (int i = 0; i < 100 && waiting != "0"; ++i, std::this_thread::sleep_for(10ms))
            waiting = a.call(active).resp.body;
        CHECK(waiting == "0");
    });
}

TEST_CASE("calls refused by a full queue leak nothing") {
    const quiet_logs quiet;
    constexpr std::size_t queue_limit = 8;
    auto a = make_app("sleepy", {.threads = 1, .queue_limit = queue_limit});
    // Long enough for the flood to be submitted while it runs, also under TSan (where submitting
    // a round's calls took 0.3 s).
    auto blocker = typical_request();
    blocker.query.set("seconds", {"1"});
    auto quick = typical_request();
    quick.query.set("seconds", {"0"});
    // One blocker holds the only thread while the rest flood the queue.
    auto round = [&] {
        batch b;
        b.submit(a, blocker);
        std::this_thread::sleep_for(50ms);
        for (int i = 1; i < overload_calls_each_round; ++i)
            b.submit(a, quick);
        const auto got = b.wait();
        INFO("outcomes (call_error/status: count): " << got.describe());
        const int overloaded = got.count(httpy::call_error::overloaded, 503);
        CHECK(overloaded >= overload_calls_each_round - 1 - static_cast<int>(queue_limit));
        CHECK(overloaded + got.count_ok() == overload_calls_each_round);
    };
    REQUIRE(a.call(quick).resp.status == 200);
    check_flat("overloaded", overload_calls_each_round, overload_rounds * overload_calls_each_round,
               [&](int n) {
                   for (int i = 0; i < n / overload_calls_each_round; ++i)
                       round();
               });
}


TEST_CASE("a WSGI application leaks nothing, on every path a response can take") {
    const quiet_logs quiet;
    auto a = httpy::app({.handler = {HTTPY_TEST_DATA "/wsgi_leak_app.py", "application"},
                         .interface = httpy::app_interface::wsgi,
                         .python = {.threads = 1}});
    const auto body = typical_request().body;
    const path_kind kinds[] = {
        {"/list", 200, false, false},       {"/generator", 200, false, false},
        {"/write", 200, false, false},      {"/late-start", 200, false, false},
        {"/exc-before", 500, false, false}, {"/exc-after", 200, true, false},
        {"/raise-mid", 200, true, false},   {"/file", 200, false, false},
        {"/filelike", 200, false, false},   {"/bad-status", 500, true, false},
        {"/dropped", 200, false, true},     {"/list", 200, false, false, true},
    };
    static_assert(std::size(kinds) == wsgi_kinds);
    check_paths_flat(a, "wsgi", kinds, wsgi_calls_each);
    // The bodies, as a client would see them.
    CHECK(drain(a.call(typical_request("/generator"))).resp.body == "onetwo" + body);
    CHECK(drain(a.call(typical_request("/write"))).resp.body == "written " + body);
    CHECK(drain(a.call(typical_request("/late-start"))).resp.body == "late" + body);
    CHECK(drain(a.call(typical_request("/exc-before"))).resp.body == "error page");
    CHECK(drain(a.call(typical_request("/filelike"))).resp.body == body + body + body);
    const auto file = a.call(typical_request("/file"));
    REQUIRE(file.resp.file);
    CHECK(file.resp.file->length() > 0);
}

TEST_CASE("an ASGI application leaks nothing, on every path a response can take") {
    const quiet_logs quiet;
    auto a = make_asgi_app();
    const auto body = typical_request().body;
    const path_kind kinds[] = {
        {"/whole", 200, false, false},        {"/stream", 200, false, false},
        {"/dropped", 200, false, true},       {"/raise-before", 500, true, false},
        {"/raise-after", 200, true, false},   {"/nothing", 500, true, false},
        {"/bad-header", 500, true, false},    {"/pathsend", 200, false, false},
        {"/disconnect", 200, false, false},   {"/task", 200, false, false, true},
    };
    static_assert(std::size(kinds) == asgi_kinds);
    check_paths_flat(a, "asgi", kinds, asgi_calls_each);
    // The bodies, as a client would see them.
    CHECK(drain(a.call(typical_request("/whole"))).resp.body == body);
    CHECK(drain(a.call(typical_request("/stream"))).resp.body == "onetwo" + body);
    CHECK(drain(a.call(typical_request("/raise-after"))).resp.body == "partial");
    CHECK(drain(a.call(typical_request("/task"))).resp.body == body + "{'ready': True}");
    const auto file = a.call(typical_request("/pathsend"));
    REQUIRE(file.resp.file);
    CHECK(file.resp.file->length() > 0);
}

TEST_CASE("an ASGI call told that its client has gone leaks nothing") {
    const quiet_logs quiet;
    auto a = make_asgi_app();
    const auto req = typical_request("/client-left");
    // The server's word, emitted as the call is submitted: queued, running or awaiting.
    const auto call_and_leave = [&] {
        boost::asio::cancellation_signal left;
        auto result = a.async_request(
            req, boost::asio::bind_cancellation_slot(left.slot(), boost::asio::use_future));
        left.emit(boost::asio::cancellation_type::total);
        return result.get();
    };
    const auto first = call_and_leave();
    REQUIRE(first.resp.status == 200);
    CHECK(first.resp.body == "http.disconnect");
    check_flat("asgi client left", 100, asgi_left_calls, [&](int n) {
        for (int i = 0; i < n; ++i)
            REQUIRE(call_and_leave().resp.body == "http.disconnect");
    });
}
