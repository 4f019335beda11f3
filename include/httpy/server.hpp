#pragma once

#include "httpy/server_options.hpp"

#include <cstdint>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace httpy {

class metrics_writer;
class router;

/// The HTTP/1.1 server: accepts connections on `options.host:port` and answers each request
/// through `routes` (native handlers inline, Python routes through their app's executor).
/// Keep-alive, pipelining (answered in order), HEAD, `Expect: 100-continue`, chunked bodies,
/// the limits and timeouts of `server_options`. Every connection runs on its own strand.
///
/// Requires: `ioc` and `routes` outlive the server; `routes` is not changed while it runs.
class server {
public:
    /// With `options.certfile` it serves HTTPS (see `server_options::certfile`).
    /// Throws: config_error when `options.forwarded_allow_ips` holds an entry that is neither an
    /// address nor a range, when `options.access_log_format` is not a format, when the
    /// access log file cannot be opened, or when a TLS file cannot be read, holds no PEM
    /// certificate or key, or has a key that does not match the certificate (the message names
    /// the file).
    server(boost::asio::io_context& ioc, const router& routes, server_options options = {});
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds, listens and starts accepting.
    /// Throws: boost::system::system_error when the address cannot be bound.
    void start();

    /// The bound port (useful after binding port 0).
    unsigned short port() const noexcept;

    /// Graceful stop: stops accepting, closes idle connections at once and lets requests already
    /// received finish (their responses carry `Connection: close`) until `drain_timeout`. At
    /// that deadline the Python calls still running are cancelled (see `executor::async_call`)
    /// and answered 503 with `Retry-After`, no call starts any more, and whatever is still open
    /// half a second later is closed. Then `done` runs on an io_context thread.
    ///
    /// Every caller is told: `done` of a call made while the stop runs runs with the first
    /// caller's; `done` of a call made after it completed runs at once, on the calling thread.
    /// A native handler cannot be cancelled: the stop waits for it to return. Thread-safe.
    void stop(std::function<void()> done = {});

    /// From now on every response carries `Connection: close` and its connection closes after
    /// it, while the server goes on accepting and serving: the first step of a stop behind a load
    /// balancer (`--drain-delay`), so keep-alive clients and proxies move to other instances
    /// before the listener closes. Thread-safe.
    void end_keep_alive() noexcept;

    /// True when the server speaks TLS (`server_options::certfile` is set).
    bool tls() const noexcept;

    /// Reads the TLS certificate, key and CA files again: the connections accepted from now on
    /// use them; those open carry on with what they started with. Nothing without TLS.
    /// Thread-safe.
    /// Throws: config_error, as the constructor, and the files in use before then stay in use.
    void reload_tls();

    /// Reopens the access log's file at its path (after logrotate moved it); the lines written
    /// meanwhile go to the old file or the new one, none is lost. Nothing for the standard
    /// output or without an access log. Thread-safe.
    void reopen_access_log();

    /// Writes the server's metrics: `httpy_connections_open`, and with `server_options::metrics`
    /// the request counts, durations and sizes by method, route and status, the requests in
    /// flight, and the refusals by reason, 504 timeouts and 503 overloads (docs/operations.md).
    /// Thread-safe.
    void write_metrics(metrics_writer& out) const;

    /// Connections open now.
    std::size_t connections() const noexcept;

    /// Requests received in full since the start (malformed ones not counted).
    std::uint64_t requests() const noexcept;

    struct state;

private:
    std::shared_ptr<state> state_;
};

} // namespace httpy
