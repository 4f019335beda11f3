#pragma once

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <span>

namespace httpy::detail {

/// What `screen_request_head` found in the bytes received so far.
struct head_screen {
    /// Empty lines before the request line (RFC 9112 2.2 lets a server ignore them): drop them.
    std::size_t skip = 0;
    /// Bytes of the request line and headers, final CRLF CRLF included; 0 while incomplete.
    std::size_t size = 0;
    /// While incomplete: how far the search got (pass it to the next call).
    std::size_t searched = 0;
    /// Set when the head is refused: too large (header_limit), a bare LF or CR
    /// (bad_line_ending), obs-fold, or an HTTP major version other than 1.
    boost::system::error_code ec;
};

/// Checks a request head before Beast's parser sees it, for what that parser lets through or
/// answers wrongly: the head's exact size against `limit` (431 above it), a bare LF or a bare CR
/// (400 at once, rather than waiting for a CRLF CRLF that never comes), obs-folded header
/// lines (400: RFC 9112 5.2 allows refusing them, and unfolding framing fields is a smuggling
/// gap), and the version: HTTP/1.x with x > 1 is rewritten in place to HTTP/1.1 (RFC 9110 2.5:
/// answer with the highest minor version supported), any other major version is refused (505).
/// Only the request line and header lines up to the first empty line are looked at.
/// `searched`: bytes already searched for the end of the head by an earlier call on the same
/// (grown) input, so a head arriving byte by byte is not searched from the start each time.
head_screen screen_request_head(std::span<char> received, std::size_t limit,
                                std::size_t searched = 0) noexcept;

} // namespace httpy::detail
