#pragma once

#include "server/options.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <atomic>
#include <memory>

namespace httpy {
class router;
}

namespace httpy::detail {

/// One client connection, shared by its session and the server's registry (for graceful stop).
struct connection {
    explicit connection(boost::asio::ip::tcp::socket socket) : stream(std::move(socket)) {}

    boost::beast::tcp_stream stream;
    /// True while the session waits for the next request's first byte (read on its strand).
    std::atomic<bool> idle{true};
    /// Set by a graceful stop: answer what was received with `Connection: close`, then close.
    std::atomic<bool> closing{false};
};

/// What every session of one server shares.
struct session_context {
    const router& routes;
    const server_options& options;
};

/// Serves `conn` until the client closes, a limit or timeout ends it, or a stop closes it.
/// Runs on the connection's strand.
boost::asio::awaitable<void> serve(std::shared_ptr<connection> conn, const session_context& ctx);

} // namespace httpy::detail
