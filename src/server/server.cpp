#include "httpy/server.hpp"

#include "httpy/metrics.hpp"
#include "httpy/status.hpp"
#include "server/connection.hpp"
#include "server/access_log.hpp"
#include "server/forwarded.hpp"
#include "server/handshake_filter.hpp"
#include "server/http_metrics.hpp"
#include "server/tls_context.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <unordered_set>
#include <utility>
#include <vector>

namespace httpy {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

// The context new connections start with, when `options` asks for TLS.
std::unique_ptr<detail::tls_context> make_tls(const server_options& options) {
    auto files = detail::tls_files_of(options);
    return files ? std::make_unique<detail::tls_context>(std::move(*files)) : nullptr;
}

} // namespace

struct server::state : std::enable_shared_from_this<server::state> {
    state(net::io_context& io, const router& routes, server_options o)
        : ioc(io), options(std::move(o)),
          metrics(options.metrics ? std::make_unique<detail::http_metrics>() : nullptr),
          proxies(options.forwarded_allow_ips),
          log(options.access_log.empty()
                  ? nullptr
                  : std::make_unique<detail::access_log>(
                        options.access_log, detail::access_log_format(options.access_log_format))),
          tls(make_tls(options)), context{routes, options, metrics.get(), proxies, log.get()},
          acceptor(net::make_strand(io)),
          drain_timer(acceptor.get_executor()), sweep_timer(acceptor.get_executor()),
          accept_pause(acceptor.get_executor()) {}

    net::io_context& ioc;
    server_options options;
    std::unique_ptr<detail::http_metrics> metrics;
    detail::trusted_proxies proxies;
    std::unique_ptr<detail::access_log> log;
    std::unique_ptr<detail::tls_context> tls; // null for plain HTTP
    detail::session_context context;
    tcp::acceptor acceptor;
    net::steady_timer drain_timer;
    net::steady_timer sweep_timer;
    net::steady_timer accept_pause;

    mutable std::mutex mu;
    std::unordered_set<std::shared_ptr<detail::connection>> open; // guarded by mu
    bool stop_requested = false;                                   // guarded by mu
    bool stopping = false; // guarded by mu: the acceptor is closed, connections close
    bool stopped = false;  // guarded by mu: the stop completed, its callers were told
    std::vector<std::function<void()>> on_stopped; // guarded by mu: every stop caller's `done`

    net::awaitable<void> accept_loop();
    void start_session(tcp::socket socket);
    void refuse_over_limit(detail::connection& conn);
    void end_session(const std::shared_ptr<detail::connection>& conn);
    void accept_backlog();
    void sweep();
    void begin_stop();
    void close_listener();
    void close_idle();
    void end_drain();
    void force_close();
    void finish_stop_if_drained(std::unique_lock<std::mutex>& lock);
};

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Answers 503 to a connection over the limit, then closes it.
net::awaitable<void> refuse(tcp::socket socket) {
    static constexpr std::string_view answer =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\n"
        "Connection: close\r\n\r\n";
    co_await net::async_write(socket, net::buffer(answer), use_tuple);
    error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
}

} // namespace

net::awaitable<void> server::state::accept_loop() {
    auto self = shared_from_this();
    std::chrono::milliseconds pause{0};
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(ioc), use_tuple);
        // An accept that completed as a stop closed the acceptor still gets served: dropping
        // its socket would reset a connection whose request may already be in.
        if (!ec)
            start_session(std::move(socket));
        if (ec == net::error::operation_aborted || !acceptor.is_open())
            co_return;
        if (ec) {
            // Out of descriptors (EMFILE) or memory: the connection stays in the backlog and the
            // listener stays readable, so retrying at once would spin. Back off as Go's
            // net/http does, 5 ms doubling to 1 s, until closing connections free some.
            pause = std::clamp(pause * 2, std::chrono::milliseconds(5),
                               std::chrono::milliseconds(1000));
            spdlog::warn("accept failed: {}; retrying in {} ms", ec.message(), pause.count());
            accept_pause.expires_after(pause);
            co_await accept_pause.async_wait(use_tuple);
            continue;
        }
        pause = std::chrono::milliseconds(0);
    }
}

void server::state::start_session(tcp::socket socket) {
    // Responses go out whole in one write: Nagle would only hold pipelined ones back ~40 ms.
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto conn = std::make_shared<detail::connection>(std::move(socket),
                                                     tls ? tls->current() : nullptr);
    {
        std::lock_guard lock(mu);
        if (stopped)
            return; // the stop has completed: nothing serves it any more
        // Accepted while stopping: answered with Connection: close, like every request now.
        conn->closing = stopping;
        if (open.size() >= options.max_connections) {
            refuse_over_limit(*conn);
            return;
        }
        open.insert(conn);
    }
    net::co_spawn(conn->socket.get_executor(), detail::serve(conn, context),
                  [self = shared_from_this(), conn](std::exception_ptr e) {
                      if (e) {
                          try {
                              std::rethrow_exception(e);
                          } catch (const std::exception& ex) {
                              spdlog::error("connection failed: {}", ex.what());
                          }
                      }
                      self->end_session(conn);
                  });
}

// Requires: mu held. A TLS client could not read a plain 503 (and a handshake to send it would
// cost what the limit is there to save): it is closed with nothing sent.
void server::state::refuse_over_limit(detail::connection& conn) {
    if (tls) {
        spdlog::warn("{} connections open, the limit; closing a new TLS connection", open.size());
        error_code ignored;
        conn.socket.close(ignored);
        return;
    }
    spdlog::warn("{} connections open, the limit; answering 503", open.size());
    auto executor = conn.socket.get_executor();
    net::co_spawn(executor, refuse(std::move(conn.socket)), net::detached);
}

void server::state::end_session(const std::shared_ptr<detail::connection>& conn) {
    std::unique_lock lock(mu);
    open.erase(conn);
    finish_stop_if_drained(lock);
}

// Requires: `lock` holds mu; it is released when the stop completes.
void server::state::finish_stop_if_drained(std::unique_lock<std::mutex>& lock) {
    if (!stopping || stopped || !open.empty())
        return;
    stopped = true;
    auto done = std::exchange(on_stopped, {});
    lock.unlock();
    net::post(acceptor.get_executor(), [self = shared_from_this()] { // the timers' strand
        self->drain_timer.cancel();
        self->sweep_timer.cancel();
        self->accept_pause.cancel();
    });
    for (auto& d : done)
        d();
}

// Cancels the operations of every connection past its deadline, then looks again in a quarter
// of a second: timeouts are seconds, so that is precise enough, and costs one timer per server.
void server::state::sweep() {
    const auto now = detail::connection::clock::now();
    {
        std::lock_guard lock(mu);
        for (const auto& conn : open) {
            if (!conn->expired(now))
                continue;
            // On the strand, and only if the session has not moved on to a new deadline. The
            // deadline stays passed: when a read completed just before this ran, cancel() finds
            // nothing and the session's next read would wait for ever; the next sweep cancels it.
            net::post(conn->socket.get_executor(), [conn] {
                if (!conn->expired(detail::connection::clock::now()))
                    return;
                conn->timed_out = true;
                error_code ignored;
                conn->socket.cancel(ignored);
            });
        }
    }
    sweep_timer.expires_after(std::chrono::milliseconds(250));
    sweep_timer.async_wait([self = shared_from_this()](error_code ec) {
        if (!ec)
            self->sweep();
    });
}

// Connections the kernel completed before the stop were accepted from the client's view: take
// them in, so their requests are answered rather than reset.
void server::state::accept_backlog() {
    error_code ec;
    acceptor.non_blocking(true, ec);
    while (!ec) {
        tcp::socket socket(net::make_strand(ioc));
        acceptor.accept(socket, ec);
        if (!ec)
            start_session(std::move(socket));
    }
}

void server::state::close_idle() {
    std::lock_guard lock(mu);
    for (const auto& conn : open) {
        conn->closing = true;
        // On the connection's strand, where `idle` cannot change under us.
        net::post(conn->socket.get_executor(), [conn] {
            error_code ec;
            if (!conn->idle || conn->unread() > 0)
                return;
            // A connection that has sent nothing yet may have its request on the way (accepted
            // from the backlog a moment ago): it gets a short grace, as Go's Shutdown gives
            // new connections, before the sweeper closes it. Other idle ones close now.
            if (conn->fresh)
                conn->expire_after(detail::fresh_connection_grace);
            else
                conn->socket.cancel(ec);
        });
    }
}

// At the drain deadline: the Python calls still running are cancelled, so each answers 503 with
// `Connection: close` (a call that never started never runs), and no new call starts. The
// connections then get `close_grace` to send those answers before they are closed.
void server::state::end_drain() {
    {
        std::lock_guard lock(mu);
        if (!open.empty())
            spdlog::warn("drain deadline reached; {} connections still open: requests still "
                         "running get 503, then the connections close",
                         open.size());
        for (const auto& conn : open)
            net::post(conn->socket.get_executor(), [conn] { // emitted on the call's strand
                conn->drain_over = true;
                conn->call_cancel.emit(net::cancellation_type::terminal);
            });
    }
    drain_timer.expires_after(detail::close_grace);
    drain_timer.async_wait([self = shared_from_this()](error_code ec) {
        if (!ec)
            self->force_close();
    });
}

void server::state::force_close() {
    std::lock_guard lock(mu);
    if (!open.empty())
        spdlog::warn("closing {} connections {} ms after the drain deadline", open.size(),
                     detail::close_grace.count());
    for (const auto& conn : open)
        net::post(conn->socket.get_executor(), [conn] {
            error_code ignored;
            conn->socket.close(ignored);
        });
}

server::server(net::io_context& ioc, const router& routes, server_options options)
    : state_(std::make_shared<state>(ioc, routes, std::move(options))) {}

server::~server() {
    error_code ignored;
    state_->acceptor.close(ignored);
    state_->sweep_timer.cancel();
    state_->accept_pause.cancel();
}

void server::start() {
    auto& acceptor = state_->acceptor;
    const tcp::endpoint endpoint(net::ip::make_address(state_->options.host), state_->options.port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    if (state_->options.reuse_port)
        acceptor.set_option(net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
    acceptor.bind(endpoint);
    acceptor.listen(net::socket_base::max_listen_connections);
    net::co_spawn(acceptor.get_executor(), state_->accept_loop(), net::detached);
    net::post(acceptor.get_executor(), [s = state_] { s->sweep(); });
}

unsigned short server::port() const noexcept {
    error_code ec;
    auto endpoint = state_->acceptor.local_endpoint(ec);
    return ec ? 0 : endpoint.port();
}

std::uint64_t server::requests() const noexcept {
    return state_->context.requests.load(std::memory_order_relaxed);
}

void server::end_keep_alive() noexcept {
    state_->context.keep_alive_ended.store(true, std::memory_order_relaxed);
}

bool server::tls() const noexcept { return state_->tls != nullptr; }

void server::reload_tls() {
    if (state_->tls)
        state_->tls->reload();
}

void server::reopen_access_log() {
    if (state_->log)
        state_->log->reopen();
}

void server::write_metrics(metrics_writer& out) const {
    out.gauge("httpy_connections_open", "Client connections open now.");
    out.value(label_set(), static_cast<std::uint64_t>(connections()));
    if (state_->metrics)
        state_->metrics->write(out);
}

std::size_t server::connections() const noexcept {
    std::lock_guard lock(state_->mu);
    return state_->open.size();
}

// On the acceptor's strand. New handshakes stop first; those under way get `handshake_grace` to
// complete and be accepted before the listener closes (see stop_new_handshakes).
void server::state::begin_stop() {
    context.keep_alive_ended.store(true, std::memory_order_relaxed); // from now on, every response
    if (!detail::stop_new_handshakes(acceptor.native_handle()))
        return close_listener();
    drain_timer.expires_after(detail::handshake_grace);
    drain_timer.async_wait([self = shared_from_this()](error_code ec) {
        if (!ec)
            self->close_listener();
    });
}

// On the acceptor's strand.
void server::state::close_listener() {
    accept_backlog();
    {
        std::lock_guard lock(mu);
        stopping = true;
    }
    error_code ignored;
    acceptor.close(ignored);
    close_idle();
    drain_timer.expires_after(options.drain_timeout);
    drain_timer.async_wait([self = shared_from_this()](error_code ec) {
        if (!ec)
            self->end_drain();
    });
    std::unique_lock lock(mu);
    finish_stop_if_drained(lock);
}

void server::stop(std::function<void()> done) {
    auto s = state_;
    {
        std::unique_lock lock(s->mu);
        if (s->stopped) {
            lock.unlock();
            if (done)
                done();
            return;
        }
        if (done)
            s->on_stopped.push_back(std::move(done));
        if (std::exchange(s->stop_requested, true))
            return; // told with the first caller when the stop completes
    }
    net::post(s->acceptor.get_executor(), [s] { s->begin_stop(); });
}

} // namespace httpy
