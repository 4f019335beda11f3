#include "server/request_reader.hpp"

#include "server/request_error.hpp"

#include <boost/beast/http/error.hpp>
#include <doctest/doctest.h>

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
