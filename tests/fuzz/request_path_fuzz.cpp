// libFuzzer target: the server's request path, from the bytes a client sends to a routed request.
//
// Input: byte 0 picks how the bytes arrive (at once or in small pieces, see piecewise_stream),
// byte 1 picks the limits (header bytes and fields, body bytes, query parameters), the rest is
// what the client sends on one connection. The bytes take the path src/server/session.cpp gives
// them: its read loop over the connection's buffer feeding a fresh request_reader per request
// (head screening, Beast's parser, target decoding with origin_form and parse_target, body or
// chunked decoding), then the router, request after pipelined request until the connection
// would close. Each step's result is checked against what must hold
// of it, and the whole connection must come out the same when the bytes arrive all at once; a
// broken invariant aborts (see invariant.hpp).

#include "httpy/header_name.hpp"
#include "httpy/route_table.hpp"
#include "httpy/router.hpp"
#include "httpy/target.hpp"
#include "server/request_error.hpp"
#include "server/request_reader.hpp"
#include "tests/fuzz/invariant.hpp"
#include "tests/fuzz/piecewise_stream.hpp"
#include "tests/fuzz/route_oracle.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using httpy::detail::request_parser;
using httpy::detail::request_reader;
using httpy::fuzz::piecewise_stream;
using httpy::fuzz::require;

using limits = httpy::server_options;

limits make_limits(std::size_t header, std::size_t body, std::size_t fields, std::size_t params) {
    limits l;
    l.max_header_bytes = header;
    l.max_body_bytes = body;
    l.max_header_count = fields;
    l.max_query_params = params;
    return l;
}

// The server's defaults first; the small ones let short inputs reach 431, 413 and the 400 for
// too many query parameters.
const std::array<limits, 4> limit_choices{
    make_limits(16 * 1024, 1024 * 1024, 100, 1000), make_limits(1024, 64, 8, 4),
    make_limits(128, 8, 3, 1), make_limits(8 * 1024, 0, 100, 1000)};

// Requests served on one connection before the input counts as done: past this, more of the same.
constexpr std::size_t max_requests = 64;

// Static, parameter and catch-all routes sharing prefixes, written as go_init would return them.
// A route may list CONNECT, but the reader refuses every CONNECT request (501) before routing.
const httpy::raw_routes route_spec{
    {"/", {"GET"}},
    {"/hello/:target", {"GET", "POST"}},
    {"/hello/world", {"GET"}},
    {"/hello/:target/friends", {"GET", "HEAD"}},
    {"/static/*filepath", {"GET"}},
    {"/users/", {"GET"}},
    {"/users/:id", {"GET", "PUT", "DELETE"}},
    {"/users/:id/posts/:post", {"GET", "PATCH"}},
    {"/users/:id/*rest", {"OPTIONS"}},
    {"/files/:name/raw", {"GET"}},
    {"/files/*path", {"POST"}},
    {"/a/b/c/d/e/f", {"TRACE", "CONNECT"}},
};

struct routing {
    httpy::route_table table;
    httpy::router routes;
};

// Each route answers with its own pattern, so the check can tell which one the router chose.
routing make_routing() {
    routing r{httpy::route_table::parse(route_spec), {}};
    for (const auto& route : r.table.routes())
        for (const auto m : route.methods)
            r.routes.add(m, route.pattern, [pattern = route.pattern](const httpy::request&) {
                return httpy::response{200, pattern, {}};
            });
    return r;
}

const routing& fixture() {
    static const routing instance = make_routing();
    return instance;
}

// What one request came to, for comparing two readings of the same bytes.
struct request_seen {
    std::string method;
    std::string target;
    std::string path;
    httpy::fields query;
    unsigned version = 0;
    bool keep_alive = false;
    httpy::fields headers;
    std::string body;

    friend bool operator==(const request_seen&, const request_seen&) = default;
};

// What a connection's bytes came to: the requests read, then whether it ended on a refusal (a
// read error, a bad target) rather than the client closing or max_requests.
struct connection_seen {
    std::vector<request_seen> requests;
    bool refused = false;

    friend bool operator==(const connection_seen&, const connection_seen&) = default;
};

// session.cpp answers only errors of these two categories; any other closes the connection
// without an answer.
void check_read_error(const error_code& ec) {
    const auto& beast_errors = http::make_error_code(http::error::bad_target).category();
    require(ec.category() == beast_errors ||
                ec.category() == httpy::detail::request_error_category(),
            "a read error outside Beast's and httpy's categories");
}

void check_headers(const httpy::request& req, const limits& limit) {
    std::size_t lines = 0;
    for (const auto& [name, values] : req.headers) {
        lines += values.size();
        require(httpy::is_header_token(name), "a header name that is not a token");
        require(httpy::canonical_header_name(name) == name, "a header name not in canonical form");
        for (const auto& value : values)
            require(!httpy::has_forbidden_header_chars(value), "a header value with CR, LF or NUL");
    }
    require(lines <= limit.max_header_count, "more header fields than the limit");
}

// Every Transfer-Encoding line joined, as the parser sees them.
std::string transfer_codings(const httpy::request& req) {
    std::string joined;
    if (const auto* lines = req.headers.find("Transfer-Encoding"))
        for (const auto& line : *lines)
            joined.append(",").append(line);
    return joined;
}

// The RFC 9112 rules the reader promises to enforce, and a body that matches its framing.
void check_framing(const request_parser& parser, const httpy::request& req, const limits& limit) {
    const auto* hosts = req.headers.find("Host");
    require(!hosts || hosts->size() == 1, "more than one Host accepted");
    require(hosts || parser.version() < 11, "HTTP/1.1 without Host accepted");
    require(!hosts || httpy::detail::valid_host(hosts->front()), "a malformed Host accepted");
    if (req.headers.contains("Transfer-Encoding")) {
        require(!req.headers.contains("Content-Length"), "Transfer-Encoding with Content-Length");
        require(parser.version() >= 11, "Transfer-Encoding in HTTP/1.0 accepted");
        require(parser.chunked(), "Transfer-Encoding accepted, but the body is not chunked");
        require(!httpy::detail::check_transfer_codings(transfer_codings(req)),
                "a transfer coding other than one final chunked accepted");
    }
    require(req.body.size() <= limit.max_body_bytes, "a body beyond the limit");
    if (const auto length = parser.content_length())
        require(req.body.size() == *length, "a body whose size is not its Content-Length");
    else if (!parser.chunked())
        require(req.body.empty(), "a body without Content-Length or chunked framing");
}

void check_request(request_reader& reader, const limits& limit) {
    require(reader.head_done() && reader.done(), "a request read without error, not complete");
    const request_parser& parser = reader.head();
    const httpy::request& req = reader.get();
    require(httpy::is_header_token(req.method), "a method that is not a token");
    require(req.method != "CONNECT", "CONNECT accepted");
    require(req.method.size() <= httpy::detail::longest_method, "an overlong method accepted");
    require(!parser.target().empty(), "an empty target");
    require(parser.version() == 10 || parser.version() == 11, "a version other than 1.0, 1.1");
    require(req.params.empty(), "params filled before routing");
    check_headers(req, limit);
    check_framing(parser, req, limit);
}

bool is_substring(std::string_view part, std::string_view whole) {
    return whole.find(part) != std::string_view::npos;
}

// `origin` is the origin-form target that the request's path and query came from.
void check_target(std::string_view origin, const httpy::request& decoded, const limits& limit) {
    require(decoded.path.starts_with('/'), "a decoded path not starting with '/'");
    require(decoded.path.find('\0') == std::string::npos, "a decoded path holding a NUL");
    const std::size_t question = origin.find('?');
    const std::string_view path = origin.substr(0, question);
    const std::string_view query =
        question == std::string_view::npos ? std::string_view() : origin.substr(question + 1);
    require(decoded.path.size() <= path.size(), "decoding made the path longer");
    require(path.find('%') != path.npos || decoded.path == path, "a path without '%' changed");
    std::size_t values = 0;
    const bool verbatim = query.find_first_of("%+") == query.npos;
    for (const auto& [key, list] : decoded.query) {
        values += list.size();
        require(!verbatim || is_substring(key, query), "a query key not from the query");
        for (const auto& value : list)
            require(!verbatim || is_substring(value, query), "a query value not from the query");
    }
    const auto pieces = static_cast<std::size_t>(std::count(query.begin(), query.end(), '&')) + 1;
    require(values <= pieces, "more query values than '&'-separated pieces");
    require(values <= limit.max_query_params, "more query parameters than the limit");
    const auto again = httpy::parse_target(origin, limit.max_query_params);
    require(again && again->path == decoded.path && again->query == decoded.query,
            "the reader's path and query differ from parse_target's");
}

void check_route(const httpy::request& req) {
    const routing& r = fixture();
    const httpy::route_match match = r.routes.match(req.method, req.path);
    const httpy::fuzz::expected_route expected =
        httpy::fuzz::expect_route(r.table, req.method, req.path);
    require(match.status == expected.status, "the router's status differs from the reference's");
    if (match.status == 405)
        require(match.allowed == expected.allowed,
                "the router's Allow differs from the reference's");
    if (match.status != 200)
        return;
    const auto* native =
        match.handler ? std::get_if<httpy::native_handler>(match.handler) : nullptr;
    require(native != nullptr, "a 200 match without the route's handler");
    require((*native)(req).body == expected.pattern, "the router chose a less specific route");
    require(match.params == expected.params, "the router captured other parameters");
}

// One connection as session.cpp serves it, minus the writes.
class connection {
public:
    connection(std::string_view bytes, std::uint8_t pattern, const limits& limit)
        : stream_(bytes, pattern), limit_(limit), buffer_(limit.max_header_bytes + 64 * 1024) {}

    connection_seen serve() {
        connection_seen seen;
        while (seen.requests.size() < max_requests && wait_for_request())
            if (!serve_one(seen))
                break;
        return seen;
    }

private:
    // session::wait_for_request: false when the client has nothing more to send.
    bool wait_for_request() {
        if (buffer_.size() > 0)
            return true;
        error_code ec;
        buffer_.commit(stream_.read_some(buffer_.prepare(4096), ec));
        return !ec && buffer_.size() > 0;
    }

    // session::read: feeds `reader` until (reader.*enough)().
    error_code read(request_reader& reader, bool (request_reader::*enough)() const) {
        for (;;) {
            if (buffer_.size() > 0) {
                error_code ec;
                const auto data = buffer_.data();
                const std::size_t used =
                    reader.put({static_cast<char*>(data.data()), data.size()}, ec);
                require(used <= data.size(), "the reader used more bytes than it was given");
                buffer_.consume(used);
                if (ec)
                    return ec;
            }
            if ((reader.*enough)())
                return {};
            const std::size_t room = beast::read_size(buffer_, 64 * 1024);
            if (room == 0)
                return http::error::buffer_overflow;
            error_code ec;
            buffer_.commit(stream_.read_some(buffer_.prepare(room), ec));
            if (ec)
                return http::error::partial_message; // the only error the stream gives is EOF
        }
    }

    // session::serve_one; false when the connection would close.
    bool serve_one(connection_seen& seen) {
        request_reader reader(limit_);
        error_code ec = read(reader, &request_reader::head_done);
        if (!ec && !reader.done())
            ec = read(reader, &request_reader::done);
        if (ec) {
            check_read_error(ec);
            seen.refused = true;
            return false;
        }
        check_request(reader, limit_);
        const request_parser& parser = reader.head();
        httpy::request& req = reader.get();
        const bool keep_alive = reader.mode().keep_alive;
        require(keep_alive == parser.keep_alive(), "a keep-alive other than the parser's");
        require(reader.mode().head == (req.method == "HEAD"), "HEAD decided otherwise");
        seen.requests.push_back({req.method, parser.target(), req.path, req.query,
                                 parser.version(), keep_alive, req.headers, req.body});
        if (reader.asterisk()) {
            require(parser.target() == "*" && req.method == "OPTIONS", "an asterisk not OPTIONS *");
            return keep_alive;
        }
        check_target(httpy::origin_form(parser.target()), req, limit_);
        check_route(req);
        return keep_alive;
    }

    piecewise_stream stream_;
    limits limit_;
    beast::flat_buffer buffer_;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2)
        return 0;
    const limits& limit = limit_choices[data[1] % limit_choices.size()];
    const std::string_view bytes(reinterpret_cast<const char*>(data) + 2, size - 2);
    const connection_seen as_sent = connection(bytes, data[0], limit).serve();
    if (piecewise_stream::in_pieces(data[0]))
        require(connection(bytes, 0, limit).serve() == as_sent,
                "the bytes read differently when they arrive all at once");
    return 0;
}
