#pragma once

#include "httpy/response.hpp"

#include <cstdint>
#include <string>

namespace httpy::detail {

/// How a response's body is delimited on the wire.
struct body_framing {
    enum kind_type : unsigned char {
        content_length, // `Content-Length: length`
        chunked, // `Transfer-Encoding: chunked` (HTTP/1.1 only)
        close,   // no length: the body ends when the connection closes (HTTP/1.0)
    };
    kind_type kind = content_length;
    std::uint64_t length = 0;
};

/// The status line and headers of `r` as sent: the handler's headers (but Content-Length,
/// Transfer-Encoding and Connection, which are the server's), `Date` and `Server` unless the
/// handler set them, `Content-Length` for every status that has a body (also for HEAD), and
/// `Connection` as `keep_alive` and `version` (10 or 11) require. Ends with the blank line.
/// The response's header names and values are already checked (no CR, LF or NUL).
std::string response_head(const response& r, unsigned version, bool keep_alive);

/// As above, with the body delimited as `framing` says instead of by `r.body`'s length.
/// Requires: `framing.kind != chunked` for version 10; `!keep_alive` for `close`.
std::string response_head(const response& r, unsigned version, bool keep_alive,
                          body_framing framing);

/// True when a response with `status` carries no body (1xx, 204, 304).
bool bodyless_status(int status) noexcept;

} // namespace httpy::detail
