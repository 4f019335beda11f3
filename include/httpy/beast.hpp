#pragma once

/// Conversions between Boost.Beast's HTTP messages and httpy's, for an application that runs
/// its own Beast server and answers some routes with Python (see examples/beast_server).
/// Opt-in, and not part of <httpy/httpy.hpp>, because it brings in Beast's message types.

#include "httpy/request.hpp"
#include "httpy/response.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <optional>

namespace httpy {

/// A Beast request with its body in a `std::string`: what `http::async_read` fills.
using beast_request = boost::beast::http::request<boost::beast::http::string_body>;

/// A Beast response with its body in a `std::string`: what `http::async_write` sends.
using beast_response = boost::beast::http::response<boost::beast::http::string_body>;

/// The httpy request for a Beast request, as httpy's own server builds it:
/// - `method` as sent (also a method Beast does not know);
/// - the target reduced to origin form (`http://host/p?q` gives `/p?q`, see `origin_form`),
///   then split and decoded by `parse_target`: the percent-decoded path, the query parsed
///   the way Go's `url.ParseQuery` does;
/// - every header line one value, in the order received, under Go's canonical name
///   (`canonical_header_name`: `x-sleep` and `X-SLEEP` are both `X-Sleep`);
/// - the body moved out of `req`, not copied;
/// - `params` left empty: routing is the caller's.
///
/// Only the body is taken: `req` keeps its method, target, version and headers, so that the
/// answer can be built from it with `to_beast`.
///
/// Returns nullopt when the target is not one `parse_target` accepts (a malformed escape, a
/// path that decodes to NUL, a control byte, a fragment, `*`): the client's mistake, to be
/// answered with 400, e.g. `to_beast(status_response(400), req)`. Never throws for anything
/// in the request; `req`'s body is left in place then.
std::optional<request> from_beast(beast_request& req);

/// The Beast response that answers `req` with `r`, as httpy's own server would send it:
/// - `r.status` and its reason phrase (a status outside 100..599 is sent as a 500);
/// - every value of `r.headers` on its own line, in order; a line whose name is not an HTTP
///   token or whose value holds CR, LF or NUL is left out (it could inject headers), and so
///   are `Content-Length`, `Transfer-Encoding` and `Connection`, which are the server's;
/// - `Date` and `Server: httpy` unless `r` has them;
/// - `req`'s version and keep-alive (closed when `r` says `Connection: close`), so that
///   `!result.keep_alive()` tells the caller to close after writing;
/// - the body moved from `r` with `Content-Length` set to its size; for a HEAD request the
///   same `Content-Length` and no body; for 1xx, 204 and 304 neither.
///
/// Ready for `http::async_write` as it is. Throws: nothing but `std::bad_alloc`.
beast_response to_beast(response r, const beast_request& req);

} // namespace httpy
