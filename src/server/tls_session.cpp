#include "server/tls_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace httpy::detail {

namespace net = boost::asio;
namespace ssl = net::ssl;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
// Long enough for close_notify to reach a client that reads; a client that does not read (its
// window full) is not waited for any longer.
constexpr std::chrono::milliseconds close_notify_time{500};

} // namespace

net::awaitable<io_result> tls_read_some(connection& conn, net::mutable_buffer buffer) {
    co_return co_await conn.tls->async_read_some(buffer, use_tuple);
}

net::awaitable<bool> tls_handshake(connection& conn, std::chrono::milliseconds timeout) {
    conn.tls.emplace(conn.socket, *conn.tls_context);
    conn.expire_after(timeout);
    auto [ec] = co_await conn.tls->async_handshake(ssl::stream_base::server, use_tuple);
    if (!ec)
        co_return true;
    // Clients that try plain HTTP or give up are common: not worth a line at the default level.
    if (ec == net::error::operation_aborted && conn.timed_out)
        spdlog::debug("{}: no TLS handshake within {} ms; closing", conn.peer(), timeout.count());
    else
        spdlog::debug("{}: TLS handshake failed: {}; closing", conn.peer(), ec.message());
    co_return false;
}

net::awaitable<void> send_close_notify(connection& conn) {
    if (!conn.tls || (SSL_get_shutdown(conn.tls->native_handle()) & SSL_SENT_SHUTDOWN) != 0)
        co_return;
    // As if the client's close_notify were in: SSL_shutdown then writes ours and is done,
    // rather than waiting to read the client's.
    SSL_set_shutdown(conn.tls->native_handle(), SSL_RECEIVED_SHUTDOWN);
    conn.expire_after(close_notify_time);
    co_await conn.tls->async_shutdown(use_tuple);
}

bool end_of_stream(const error_code& ec) {
    return ec == net::error::eof || ec == ssl::error::stream_truncated;
}

} // namespace httpy::detail
