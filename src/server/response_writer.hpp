#pragma once

#include "httpy/response.hpp"
#include "httpy/server_options.hpp"
#include "server/connection.hpp"
#include "server/request_reader.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>

namespace httpy::detail {

/// What writing one response did.
struct written {
    /// The whole response went out as its head announced it.
    bool whole = false;
    /// The connection may carry another request: `whole`, and neither the request, the
    /// response nor its framing (a body delimited by closing) ends it.
    bool keep_alive = false;
    /// Body bytes sent.
    std::uint64_t body_bytes = 0;
};

/// Writes `r` to `conn` within the write timeout per write: the head (`Connection` as
/// `keep_alive` asks, unless the body's framing needs the close), then the body: `r.body`, then
/// `r.file` with sendfile or `r.stream`'s chunks as the stream gives them (pulled one at a
/// time, each within the handler's timeout; the call is bound to `conn.call_cancel`). A stream
/// that fails, or ends short of the `Content-Length` it announced, cuts the body (logged; the
/// connection must then close); a longer one is cut at that length. No body for HEAD or a
/// bodyless status; a stream left unread is dropped, which closes its source.
/// Requires: on the connection's strand.
boost::asio::awaitable<written> write_response(connection& conn, const server_options& options,
                                               response r, response_mode mode, bool keep_alive);

} // namespace httpy::detail
