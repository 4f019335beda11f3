#include "server/request_reader.hpp"

#include "server/request_error.hpp"

#include <boost/beast/http/error.hpp>
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace http = boost::beast::http;
using boost::system::error_code;
using httpy::detail::request_error;
using httpy::detail::request_reader;

namespace {

struct read_result {
    error_code ec;
    std::size_t used = 0;
};

// Feeds all of `bytes` at once, as a session does with what it has buffered.
read_result feed(request_reader& reader, std::string& bytes) {
    read_result out;
    out.used = reader.put({bytes.data(), bytes.size()}, out.ec);
    return out;
}

error_code refusal(std::string bytes, const httpy::server_options& options = {}) {
    request_reader reader(options);
    return feed(reader, bytes).ec;
}

// The status the session answers a refusal with (400 for Beast's parse errors).
int status_of_refusal(std::string bytes, const httpy::server_options& options = {}) {
    const error_code ec = refusal(std::move(bytes), options);
    REQUIRE(ec);
    if (ec.category() == httpy::detail::request_error_category())
        return httpy::detail::status_of(static_cast<request_error>(ec.value()));
    REQUIRE(ec.category() == http::make_error_code(http::error::bad_method).category());
    return 400;
}

std::string with_fields(std::size_t count) {
    std::string head = "GET / HTTP/1.1\r\nHost: t\r\n";
    for (std::size_t i = 1; i < count; ++i)
        head += "X-F" + std::to_string(i) + ": v\r\n";
    return head + "\r\n";
}

std::string with_query_params(std::size_t count) {
    std::string target = "/q?";
    for (std::size_t i = 0; i < count; ++i)
        target += "k" + std::to_string(i) + "=v&";
    return "GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

} // namespace

TEST_CASE("the reader hands back the request ready for routing: decoded path, query, body") {
    request_reader reader(httpy::server_options{});
    std::string bytes = "POST /a%20b/c?x=1&y=%2B&x=2 HTTP/1.1\r\nHost: t\r\nx-sleep: 1\r\n"
                        "Content-Length: 5\r\n\r\nhelloGET";
    const auto result = feed(reader, bytes);
    REQUIRE_FALSE(result.ec);
    CHECK(result.used == bytes.size() - 3);
    REQUIRE(reader.done());
    const httpy::request& req = reader.get();
    CHECK(req.method == "POST");
    CHECK(req.path == "/a b/c");
    CHECK(req.query == httpy::fields{{"x", {"1", "2"}}, {"y", {"+"}}});
    CHECK(req.headers.find("X-Sleep")->front() == "1");
    CHECK(req.body == "hello");
    CHECK(req.params.empty());
    CHECK_FALSE(reader.asterisk());
}

TEST_CASE("an absolute-form target is read as its path and query") {
    request_reader reader(httpy::server_options{});
    std::string bytes = "GET http://t/p?q=1 HTTP/1.1\r\nHost: t\r\n\r\n";
    REQUIRE_FALSE(feed(reader, bytes).ec);
    CHECK(reader.get().path == "/p");
    CHECK(reader.get().query == httpy::fields{{"q", {"1"}}});
}

TEST_CASE("OPTIONS * is read as a question about the server, with no path to route") {
    request_reader reader(httpy::server_options{});
    std::string bytes = "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n";
    REQUIRE_FALSE(feed(reader, bytes).ec);
    CHECK(reader.asterisk());
    CHECK(reader.get().path.empty());
}

TEST_CASE("a bad target is a 400 as soon as the head is in, before the body") {
    request_reader reader(httpy::server_options{});
    std::string bytes = "POST /a%zz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n";
    CHECK(feed(reader, bytes).ec == request_error::bad_target);
    CHECK(refusal("GET * HTTP/1.1\r\nHost: t\r\n\r\n") == request_error::bad_target);
    CHECK(status_of_refusal("GET /?a=1;b=2 HTTP/1.1\r\nHost: t\r\n\r\n") == 400);
}

TEST_CASE("the response mode carries the version, the client's keep-alive and HEAD") {
    struct mode_case {
        std::string head;
        unsigned version;
        bool keep_alive;
        bool is_head;
    };
    for (const mode_case& c : {
             mode_case{"GET / HTTP/1.1\r\nHost: t\r\n\r\n", 11, true, false},
             mode_case{"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 11, false, true},
             mode_case{"GET / HTTP/1.0\r\n\r\n", 10, false, false},
             mode_case{"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 10, true, true},
         }) {
        request_reader reader(httpy::server_options{});
        std::string bytes = c.head;
        REQUIRE_FALSE(feed(reader, bytes).ec);
        const auto mode = reader.mode();
        CHECK_MESSAGE(mode.version == c.version, c.head);
        CHECK_MESSAGE(mode.keep_alive == c.keep_alive, c.head);
        CHECK_MESSAGE(mode.head == c.is_head, c.head);
    }
}

TEST_CASE("CONNECT is not implemented: 501, whatever its target") {
    CHECK(refusal("CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n") ==
          request_error::connect_method);
    CHECK(status_of_refusal("CONNECT /still/alive HTTP/1.1\r\nHost: t\r\n\r\n") == 501);
}

TEST_CASE("a method longer than any registered one is 501 but the longest registered is read") {
    CHECK(status_of_refusal(std::string(5000, 'A') + " / HTTP/1.1\r\nHost: t\r\n\r\n") == 501);
    CHECK(refusal("UPDATEREDIRECTREFS / HTTP/1.1\r\nHost: t\r\n\r\n") ==
          request_error::method_too_long);
    request_reader reader(httpy::server_options{});
    std::string longest = "UPDATEREDIRECTREF / HTTP/1.1\r\nHost: t\r\n\r\n";
    REQUIRE_FALSE(feed(reader, longest).ec);
    CHECK(reader.get().method == "UPDATEREDIRECTREF");
}

TEST_CASE("a transfer coding before a final chunked is 501 and chunked not final stays 400") {
    const std::string post = "POST / HTTP/1.1\r\nHost: t\r\n";
    CHECK(status_of_refusal(post + "Transfer-Encoding: gzip, chunked\r\n\r\n") == 501);
    CHECK(status_of_refusal(post + "Transfer-Encoding: deflate, chunked\r\n\r\n") == 501);
    const std::string two_lines = "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECK(status_of_refusal(post + two_lines) == 501);
    CHECK(status_of_refusal(post + "Transfer-Encoding: gzip\r\n\r\n") == 400);
    CHECK(status_of_refusal(post + "Transfer-Encoding: chunked, gzip\r\n\r\n") == 400);
    const std::string not_last = "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n";
    CHECK(status_of_refusal(post + not_last) == 400);
    const std::string with_length = "Transfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n";
    CHECK(status_of_refusal(post + with_length) == 400);
}

TEST_CASE("more header fields than max_header_count are refused with 431, the limit passes") {
    httpy::server_options options;
    CHECK(options.max_header_count == 100);
    CHECK_FALSE(refusal(with_fields(100), options));
    CHECK(refusal(with_fields(101), options) == request_error::too_many_headers);
    CHECK(status_of_refusal(with_fields(101), options) == 431);
    options.max_header_count = 3;
    CHECK_FALSE(refusal(with_fields(3), options));
    CHECK(refusal(with_fields(4), options) == request_error::too_many_headers);
}

TEST_CASE("more query parameters than max_query_params are refused with 400, the limit passes") {
    httpy::server_options options;
    CHECK(options.max_query_params == 1000);
    request_reader reader(options);
    std::string at_limit = with_query_params(1000);
    REQUIRE_FALSE(feed(reader, at_limit).ec);
    CHECK(reader.get().query.size() == 1000);
    CHECK(refusal(with_query_params(1001), options) == request_error::too_many_query_params);
    CHECK(status_of_refusal(with_query_params(1001), options) == 400);
    options.max_query_params = 2;
    CHECK_FALSE(refusal("GET /?a&&b& HTTP/1.1\r\nHost: t\r\n\r\n", options));
    CHECK(refusal("GET /?a&b&c HTTP/1.1\r\nHost: t\r\n\r\n", options) ==
          request_error::too_many_query_params);
}

TEST_CASE("a bare CR in the head is refused before the head is complete") {
    CHECK(refusal("GET / HTTP/1.1\rHost: t\r") == http::error::bad_line_ending);
}

namespace {

// The body's bytes, from memory or from its spool file.
std::string body_of(const httpy::request& req) {
    if (!req.body_spool)
        return req.body;
    std::string out(static_cast<std::size_t>(req.body_spool->length()), '\0');
    REQUIRE(httpy::detail::read_body_file(*req.body_spool, out.data()));
    return out;
}

// Feeds `bytes` in pieces of `step`, as they might arrive from the network.
error_code feed_in_pieces(request_reader& reader, std::string bytes, std::size_t step) {
    std::size_t at = 0;
    error_code ec;
    std::string pending;
    while (at < bytes.size() || !pending.empty()) {
        pending += bytes.substr(at, step);
        at = std::min(bytes.size(), at + step);
        const std::size_t used = reader.put({pending.data(), pending.size()}, ec);
        if (ec)
            return ec;
        pending.erase(0, used);
        if (at == bytes.size() && used == 0)
            break;
    }
    return ec;
}

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
    return s;
}

std::string chunked(const std::string& body, std::size_t chunk) {
    std::string out;
    for (std::size_t at = 0; at < body.size(); at += chunk) {
        const std::string part = body.substr(at, chunk);
        char size[20];
        std::snprintf(size, sizeof size, "%zx\r\n", part.size());
        out += size + part + "\r\n";
    }
    return out + "0\r\n\r\n";
}

} // namespace

TEST_CASE("a body past spool_body_above is in an unlinked temporary file, a smaller one in memory") {
    httpy::server_options options;
    options.max_body_bytes = 1 << 20;
    options.spool_body_above = 4096;
    const std::string big = pattern(100'000);
    SUBCASE("Content-Length, arriving in pieces") {
        request_reader reader(options);
        REQUIRE_FALSE(feed_in_pieces(reader,
                                     "POST /u HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + big,
                                     1000));
        REQUIRE(reader.done());
        const httpy::request& req = reader.get();
        REQUIRE(req.body_spool);
        CHECK(req.body.empty());
        CHECK(req.body.capacity() <= 4096 * 2); // not reserved to the whole length
        CHECK(req.body_size() == big.size());
        CHECK(body_of(req) == big);
    }
    SUBCASE("chunked") {
        request_reader reader(options);
        REQUIRE_FALSE(feed_in_pieces(
            reader, "POST /u HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(big, 3000),
            777));
        REQUIRE(reader.done());
        REQUIRE(reader.get().body_spool);
        CHECK(body_of(reader.get()) == big);
    }
    SUBCASE("the threshold itself stays in memory") {
        request_reader reader(options);
        const std::string small = pattern(4096);
        REQUIRE_FALSE(feed_in_pieces(
            reader, "POST /u HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n" + small, 100));
        REQUIRE(reader.done());
        CHECK_FALSE(reader.get().body_spool);
        CHECK(reader.get().body == small);
    }
    SUBCASE("0 never spools") {
        options.spool_body_above = 0;
        request_reader reader(options);
        REQUIRE_FALSE(feed_in_pieces(
            reader, "POST /u HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + big, 5000));
        REQUIRE(reader.done());
        CHECK_FALSE(reader.get().body_spool);
        CHECK(reader.get().body == big);
    }
}

TEST_CASE("a body that cannot be spooled is refused with 500 and says why") {
    httpy::server_options options;
    options.spool_body_above = 10;
    const char* saved = std::getenv("TMPDIR");
    const std::string previous = saved != nullptr ? saved : "";
    ::setenv("TMPDIR", "/nonexistent/httpy-spool", 1);
    request_reader reader(options);
    std::string bytes = "POST /u HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n" + pattern(50);
    const auto result = feed(reader, bytes);
    if (saved != nullptr)
        ::setenv("TMPDIR", previous.c_str(), 1);
    else
        ::unsetenv("TMPDIR");
    REQUIRE(result.ec == request_error::body_not_stored);
    CHECK(httpy::detail::status_of(request_error::body_not_stored) == 500);
    CHECK(result.ec.message().find("temporary file") != std::string::npos);
}
