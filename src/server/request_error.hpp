#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace httpy::detail {

/// Requests the server refuses beyond what Beast's parser checks: the framing and Host rules of
/// RFC 9112 that close request-smuggling gaps (400), and HTTP versions it does not speak (505).
enum class request_error {
    /// HTTP/1.1 without a Host header (RFC 9112 3.2).
    missing_host = 1,
    /// More than one Host header.
    duplicate_host,
    /// A Host that is not `host[:port]`.
    bad_host,
    /// Transfer-Encoding other than one final `chunked` (RFC 9112 6.1, 6.3).
    bad_transfer_encoding,
    /// Transfer-Encoding together with Content-Length (RFC 9112 6.3).
    transfer_encoding_with_content_length,
    /// Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1).
    transfer_encoding_in_http10,
    /// A header line continued on the next line (obs-fold, RFC 9112 5.2).
    obs_fold,
    /// An HTTP major version other than 1 (505, RFC 9110 15.6.6).
    unsupported_version,
};

/// The status that answers `e`: 505 for `unsupported_version`, else 400.
int status_of(request_error e) noexcept;

const boost::system::error_category& request_error_category() noexcept;

inline boost::system::error_code make_error_code(request_error e) noexcept {
    return {static_cast<int>(e), request_error_category()};
}

/// True when `host` is a valid Host value: a reg-name, IPv4 or bracketed IP literal, with an
/// optional numeric port (RFC 9110 7.2, RFC 3986 3.2.2).
bool valid_host(std::string_view host) noexcept;

/// True when a Transfer-Encoding list (all its field lines joined by commas) is exactly one
/// `chunked` (case-insensitive, empty list elements ignored): the only coding accepted.
bool only_chunked(std::string_view codings) noexcept;

} // namespace httpy::detail

template <>
struct boost::system::is_error_code_enum<httpy::detail::request_error> : std::true_type {};
