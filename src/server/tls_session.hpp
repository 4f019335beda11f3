#pragma once

#include "server/connection.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>

namespace httpy::detail {

/// Makes the TLS stream of `conn` (from `conn.tls_context`) and runs the server's side of the
/// handshake within `timeout`. A handshake that fails (a plain HTTP client on the TLS port, a
/// protocol or cipher the policy refuses, a missing client certificate) or times out is logged
/// at debug level. Returns: true when the connection can carry requests.
/// Requires: `conn.tls_context` is set; on the connection's strand.
boost::asio::awaitable<bool> tls_handshake(connection& conn, std::chrono::milliseconds timeout);

/// Sends TLS's close_notify, once, without waiting for the client's: the connection is about to
/// close (the socket's sending side is shut down next, as for plain HTTP). Nothing for plain
/// HTTP or when it was sent already; within half a second at most.
/// Requires: on the connection's strand; no read or write of the connection is pending.
boost::asio::awaitable<void> send_close_notify(connection& conn);

/// Whether `ec`, from a read, is the client's end of the stream: end of file, or TLS ending
/// without close_notify (a client that shuts down only its socket's sending side, as many do).
bool end_of_stream(const boost::system::error_code& ec);

} // namespace httpy::detail
