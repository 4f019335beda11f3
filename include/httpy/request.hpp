#pragma once

#include "httpy/body_file.hpp"
#include "httpy/fields.hpp"

#include <memory>

#include <string>
#include <utility>

namespace httpy {

/// One HTTP request as a plain C++ value: what crosses from the network (or any caller) to a
/// handler. Holds no Python object and may be moved between threads freely.
///
/// Built with its members in go_request's order, `request{"GET", "/p", params, query, headers,
/// body}` (trailing ones may be left out), or member by member from `request{}`.
struct request {
    request() = default;

    /// Not an aggregate on purpose: g++ 12 destroys an aggregate temporary built inside a
    /// `co_await` expression twice (`co_await app.async_request(request{...}, token)` is a
    /// double free there, or does not compile); a temporary made by a constructor is sound.
    request(std::string method_in, std::string path_in, fields params_in = {},
            fields query_in = {}, fields headers_in = {}, std::string body_in = {})
        : method(std::move(method_in)), path(std::move(path_in)), params(std::move(params_in)),
          query(std::move(query_in)), headers(std::move(headers_in)), body(std::move(body_in)) {}

    /// The method as sent, e.g. "GET".
    std::string method;
    /// The target's path, percent-decoded, without the query.
    std::string path;
    /// Path parameters captured by the matched route (`:name` and `*name` segments).
    fields params;
    /// The query string parsed the way Go's `url.ParseQuery` does (see `parse_query`).
    fields query;
    /// Every header, names in Go's canonical form (see `canonical_header_name`).
    fields headers;
    /// The body bytes exactly as received (may contain NUL and invalid UTF-8); empty when the
    /// body was spooled.
    std::string body;
    /// The body instead of `body` when it was larger than `server_options::spool_body_above`:
    /// an unlinked temporary file holding exactly its bytes (see `body_size`). Null otherwise.
    std::shared_ptr<const body_file> body_spool;

    /// What the WSGI environ (and the ASGI scope) carry beside the above; the server fills
    /// them in, a request made by hand may leave them as they are.
    /// The query as sent, after the `?`, not decoded; empty without one.
    std::string query_string;
    /// The target's path as sent, before percent-decoding (ASGI's `raw_path`); empty when
    /// the request was made by hand (`path` then stands for it).
    std::string raw_path;
    /// The version of the request line: 10 for HTTP/1.0, 11 for HTTP/1.1.
    unsigned version = 11;
    /// "http", or "https" when the request came over TLS or a trusted proxy says its client
    /// used https (`server_options::forwarded_allow_ips`): WSGI's `wsgi.url_scheme`, ASGI's
    /// `scheme`.
    std::string scheme = "http";
    /// The connection's two ends: the client's address and port, and the server's own
    /// (empty and 0 when there is no connection). Behind a trusted proxy the client is the one
    /// the proxy names, its port 0 when the proxy gave none.
    std::string remote_address;
    unsigned short remote_port = 0;
    std::string local_address;
    unsigned short local_port = 0;

    /// The body's length, wherever it is kept.
    std::uint64_t body_size() const noexcept { return body_spool ? body_spool->length() : body.size(); }
};

} // namespace httpy
