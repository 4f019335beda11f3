#pragma once

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <string_view>
#include <type_traits>

namespace httpy::detail {

/// Requests the server refuses beyond what Beast's parser checks: the framing and Host rules of
/// RFC 9112 that close request-smuggling gaps (400), targets it cannot decode (400), limits
/// (400, 431), what it does not implement (501) and HTTP versions it does not speak (505).
/// `status_of` gives each one's status.
enum class request_error {
    /// HTTP/1.1 without a Host header (RFC 9112 3.2).
    missing_host = 1,
    /// More than one Host header.
    duplicate_host,
    /// A Host that is not `host[:port]`.
    bad_host,
    /// Transfer-Encoding whose final coding is not `chunked`, or with `chunked` more than once
    /// (RFC 9112 6.1, 6.3: 400).
    bad_transfer_encoding,
    /// Transfer-Encoding together with Content-Length (RFC 9112 6.3).
    transfer_encoding_with_content_length,
    /// Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1).
    transfer_encoding_in_http10,
    /// A header line continued on the next line (obs-fold, RFC 9112 5.2).
    obs_fold,
    /// An HTTP major version other than 1 (505, RFC 9110 15.6.6).
    unsupported_version,
    /// A transfer coding other than `chunked` before the final `chunked`, e.g.
    /// `gzip, chunked` (501, RFC 9112 6.1: none is implemented).
    unsupported_transfer_coding,
    /// The CONNECT method: an origin server does not tunnel (501, RFC 9110 9.3.6).
    connect_method,
    /// A method longer than any registered one (501, RFC 9112 3; see `longest_method`).
    method_too_long,
    /// More header fields than `server_options::max_header_count` (431, RFC 6585 5).
    too_many_headers,
    /// A target that is not a valid origin-form (or absolute-form) target: see `parse_target`.
    bad_target,
    /// More query parameters than `server_options::max_query_params` (400).
    too_many_query_params,
    /// A body past `server_options::spool_body_above` that could not be written to a temporary
    /// file (TMPDIR full or not writable): 500, as nginx answers when its client body buffer
    /// file fails.
    body_not_stored,
};

/// The longest method the server knows: the longest in IANA's HTTP Method Registry
/// ("UPDATEREDIRECTREF"). Shorter unknown methods are routed (405, or to a catch-all handler
/// that may implement them); longer ones are 501.
inline constexpr std::size_t longest_method = 17;

/// The status that answers `e`: 400, 431, 500, 501 or 505 (see each value).
int status_of(request_error e) noexcept;

/// The name of `e` as a metrics label: its enumerator's name ("missing_host").
std::string_view reason_of(request_error e) noexcept;

const boost::system::error_category& request_error_category() noexcept;

inline boost::system::error_code make_error_code(request_error e) noexcept {
    return {static_cast<int>(e), request_error_category()};
}

/// True when `host` is a valid Host value: a reg-name, IPv4 or bracketed IP literal, with an
/// optional numeric port (RFC 9110 7.2, RFC 3986 3.2.2).
bool valid_host(std::string_view host) noexcept;

/// Judges a Transfer-Encoding list (all its field lines joined by commas; empty list elements
/// ignored, names case-insensitive): no error when it is exactly one `chunked`, the only coding
/// accepted; `unsupported_transfer_coding` when well-formed codings precede a final `chunked`;
/// else `bad_transfer_encoding` (`chunked` not final or repeated, a coding that is not a token).
boost::system::error_code check_transfer_codings(std::string_view codings) noexcept;

} // namespace httpy::detail

template <>
struct boost::system::is_error_code_enum<httpy::detail::request_error> : std::true_type {};
