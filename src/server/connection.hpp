#pragma once

#include "httpy/server_options.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

namespace httpy {
class router;
}

namespace httpy::detail {

class access_log;
class http_metrics;
class trusted_proxies;

/// How long a connection that has sent nothing yet stays open once a stop has begun: its request
/// may be on the way (Go's Shutdown gives new connections a grace too).
inline constexpr std::chrono::milliseconds fresh_connection_grace{1000};

/// How long, once a stop has begun, the listener still accepts the connections whose handshake
/// was under way (new ones are no longer let in, see `stop_new_handshakes`) before it closes:
/// a round trip on any network a proxy shares with the server.
inline constexpr std::chrono::milliseconds handshake_grace{100};

/// How long connections still open at the drain deadline get to send the 503 that answers
/// their cancelled calls (and a response being written to finish) before they are closed.
inline constexpr std::chrono::milliseconds close_grace{500};

/// TLS over a connection's socket: the socket stays the connection's, so timeouts, cancellation
/// and closing work on it alike for both kinds of connection.
using tls_stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>;

/// What a read or a write completes with: the error, and the bytes moved.
using io_result = std::tuple<boost::system::error_code, std::size_t>;

struct connection;

/// A TLS connection's read and write (see `connection::read_some` and `write`): coroutines of
/// their own, so that the code of Asio's TLS operations stays out of the functions that plain
/// HTTP runs through (the first is in tls_session.cpp). Requires: `conn.tls` is set; on the
/// connection's strand.
boost::asio::awaitable<io_result> tls_read_some(connection& conn,
                                                boost::asio::mutable_buffer buffer);
template <class ConstBuffers>
boost::asio::awaitable<io_result> tls_write(connection& conn, ConstBuffers buffers);

/// One client connection, shared by its session and the server's registry (graceful stop and
/// timeouts).
///
/// Reads and writes go through `read_some` and `write`, which take the TLS stream when there is
/// one and the socket otherwise: one branch, no virtual call, no allocation, so plain HTTP pays
/// nothing for TLS.
///
/// Timeouts use a deadline per connection that the server's sweeper checks a few times a
/// second, rather than a timer per operation: setting one is a store, not a timer-queue update
/// and a timerfd system call per read and write.
struct connection {
    using clock = std::chrono::steady_clock;

    /// `secure`: the SSL context of a TLS connection (its handshake is the session's to run), or
    /// null for plain HTTP.
    connection(boost::asio::ip::tcp::socket s,
               std::shared_ptr<boost::asio::ssl::context> secure = nullptr)
        : socket(std::move(s)), tls_context(std::move(secure)) {
        boost::system::error_code ec;
        if (auto peer = socket.remote_endpoint(ec); !ec) {
            remote_address = peer.address().to_string();
            remote_port = peer.port();
        }
        if (auto local = socket.local_endpoint(ec); !ec) {
            local_address = local.address().to_string();
            local_port = local.port();
        }
    }

    /// Gives the next operations until `timeout` from now; then the sweeper cancels them and
    /// `timed_out` is set. Requires: on the connection's strand.
    void expire_after(std::chrono::milliseconds timeout) {
        timed_out = false;
        deadline.store((clock::now() + timeout).time_since_epoch().count(),
                       std::memory_order_relaxed);
    }

    /// No deadline (while a handler runs: its own timeout applies).
    void never_expire() { deadline.store(INT64_MAX, std::memory_order_relaxed); }

    /// The client as log lines name it, "address:port".
    std::string peer() const {
        return remote_address.empty() ? std::string("unknown peer")
                                      : remote_address + ":" + std::to_string(remote_port);
    }

    /// Reads some bytes into `buffer`: decrypted ones over TLS, else from the socket.
    /// Requires: on the connection's strand.
    boost::asio::awaitable<io_result> read_some(boost::asio::mutable_buffer buffer) {
        if (tls)
            return tls_read_some(*this, buffer);
        return socket.async_read_some(buffer, boost::asio::as_tuple(boost::asio::use_awaitable));
    }

    /// Writes all of `buffers` (`boost::asio::async_write`), over TLS when the connection has
    /// it. Requires: on the connection's strand.
    template <class ConstBuffers>
    boost::asio::awaitable<io_result> write(const ConstBuffers& buffers) {
        if (tls)
            return tls_write(*this, buffers);
        return boost::asio::async_write(socket, buffers,
                                        boost::asio::as_tuple(boost::asio::use_awaitable));
    }

    /// Bytes received and not read yet: in the socket and, over TLS, held by TLS.
    /// Requires: on the connection's strand.
    std::size_t unread() {
        boost::system::error_code ignored;
        return socket.available(ignored) + tls_pending();
    }

    /// Bytes TLS has taken from the socket and not given out yet (encrypted ones counted as they
    /// are, whatever they decrypt to); 0 for plain HTTP. Requires: on the connection's strand.
    std::size_t tls_pending() {
        if (!tls)
            return 0;
        SSL* ssl = tls->native_handle();
        return BIO_ctrl_pending(SSL_get_rbio(ssl)) + (SSL_has_pending(ssl) ? 1 : 0);
    }

    /// True when the deadline has passed.
    bool expired(clock::time_point now) const {
        return now.time_since_epoch().count() >= deadline.load(std::memory_order_relaxed);
    }

    boost::asio::ip::tcp::socket socket;
    /// The SSL context a TLS connection started with (kept while it is open: a reload makes
    /// another for new connections), and its stream once the session has made it; null and
    /// empty for plain HTTP.
    std::shared_ptr<boost::asio::ssl::context> tls_context;
    std::optional<tls_stream> tls;
    /// The two ends, read once at accept (empty and 0 when the socket could not tell).
    std::string remote_address;
    unsigned short remote_port = 0;
    std::string local_address;
    unsigned short local_port = 0;
    /// When pending operations give up, as steady_clock ticks.
    std::atomic<std::int64_t> deadline{INT64_MAX};
    /// Set on the strand when the sweeper cancelled operations at the deadline.
    bool timed_out = false;
    /// True while the session waits for the next request's first byte (read on its strand).
    std::atomic<bool> idle{true};
    /// True until the first request's first byte has arrived (written on its strand).
    std::atomic<bool> fresh{true};
    /// Set by a graceful stop: answer what was received with `Connection: close`, then close.
    std::atomic<bool> closing{false};
    /// Set on the strand at the drain deadline: no Python call starts any more (503).
    bool drain_over = false;
    /// Cancels the Python call the session awaits; the server emits it (on the strand) at the
    /// drain deadline, and the call then completes at once with a 503.
    boost::asio::cancellation_signal call_cancel;
    /// Counts the Python calls the session has awaited (on the strand): the watch for the
    /// client closing meanwhile acts only for the call it was set for.
    std::uint64_t calls = 0;
};

template <class ConstBuffers>
boost::asio::awaitable<io_result> tls_write(connection& conn, ConstBuffers buffers) {
    co_return co_await boost::asio::async_write(*conn.tls, buffers,
                                                boost::asio::as_tuple(boost::asio::use_awaitable));
}

/// What every session of one server shares.
struct session_context {
    const router& routes;
    const server_options& options;
    /// Where answered requests are counted; null when `options.metrics` is off.
    http_metrics* metrics = nullptr;
    /// The peers whose proxy headers are believed (`options.forwarded_allow_ips`).
    const trusted_proxies& proxies;
    /// Where answered and refused requests are logged; null when `options.access_log` is empty.
    access_log* log = nullptr;
    /// Requests read in full so far (each counted once its body is in).
    mutable std::atomic<std::uint64_t> requests{0};
    /// Set by `server::end_keep_alive`: every response closes its connection.
    std::atomic<bool> keep_alive_ended{false};
};

/// Serves `conn` until the client closes, a limit or timeout ends it, or a stop closes it.
/// Runs on the connection's strand.
boost::asio::awaitable<void> serve(std::shared_ptr<connection> conn, const session_context& ctx);

} // namespace httpy::detail
