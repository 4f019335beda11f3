#include "httpy/beast.hpp"

#include "httpy/status.hpp"

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <string_view>

namespace http = boost::beast::http;
using namespace std::string_literals;

namespace {

// A Beast request exactly as Beast's parser makes it from `wire`.
httpy::beast_request parse(std::string_view wire) {
    http::request_parser<http::string_body> parser;
    parser.eager(true);
    boost::system::error_code ec;
    parser.put(boost::asio::buffer(wire.data(), wire.size()), ec);
    REQUIRE_FALSE(ec);
    REQUIRE(parser.is_done());
    return parser.release();
}

// The bytes Beast sends for `res`.
std::string wire_of(httpy::beast_response& res) {
    std::ostringstream out;
    out << res;
    return out.str();
}

std::size_t lines_named(const httpy::beast_response& res, std::string_view name) {
    std::size_t n = 0;
    for (const auto& field : res)
        n += boost::beast::iequals(field.name_string(), name) ? 1 : 0;
    return n;
}

} // namespace

TEST_CASE("an absolute-form target gives the origin-form path and the Go-parsed query") {
    auto req = parse("GET http://example.com:8080/a%20b/c?x=1&x=2&y=a+b HTTP/1.1\r\n"
                     "Host: example.com\r\n\r\n");
    auto r = httpy::from_beast(req);
    REQUIRE(r);
    CHECK(r->method == "GET");
    CHECK(r->path == "/a b/c");
    CHECK(r->query == httpy::fields{{"x", {"1", "2"}}, {"y", {"a b"}}});
    CHECK(r->params.empty());
}

TEST_CASE("an absolute-form target without a path is the root") {
    auto req = parse("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
    auto r = httpy::from_beast(req);
    REQUIRE(r);
    CHECK(r->path == "/");
}

TEST_CASE("a target with a bad escape is refused without an exception and keeps the body") {
    for (std::string_view target : {"/a%zz", "/a%00b", "/p?q=%", "*"}) {
        CAPTURE(target);
        auto req = parse("POST "s + std::string(target) +
                         " HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody");
        CHECK_FALSE(httpy::from_beast(req));
        CHECK(req.body() == "body");
    }
}

TEST_CASE("header names are canonical and repeated headers keep every value in order") {
    auto req = parse("GET / HTTP/1.1\r\nHost: h\r\nx-sleep: 1\r\nACCEPT: a\r\n"
                     "x-multi: one\r\nX-MULTI: two\r\nx-Multi: three\r\n\r\n");
    auto r = httpy::from_beast(req);
    REQUIRE(r);
    CHECK(r->headers == httpy::fields{{"Host", {"h"}},
                                      {"X-Sleep", {"1"}},
                                      {"Accept", {"a"}},
                                      {"X-Multi", {"one", "two", "three"}}});
}

TEST_CASE("a method Beast does not know is passed on as sent") {
    auto req = parse("PURGE /cache HTTP/1.1\r\nHost: h\r\n\r\n");
    auto r = httpy::from_beast(req);
    REQUIRE(r);
    CHECK(r->method == "PURGE");
}

TEST_CASE("a binary body is moved out byte for byte, not copied") {
    std::string body(100'000, 'x');
    body[0] = '\0';
    body[1] = '\xff';
    body[2] = '\r';
    auto req = parse("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n" + body);
    const char* storage = req.body().data();
    auto r = httpy::from_beast(req);
    REQUIRE(r);
    CHECK(r->body == body);
    CHECK(r->body.data() == storage); // the same buffer: moved
    CHECK(req.body().empty());
    CHECK(req.version() == 11); // the rest of the request is still there for to_beast
    CHECK(req.target() == "/upload");
}

TEST_CASE("a response carries status, every header line in order, Date, Server and length") {
    auto req = parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    httpy::response r{201, "created", {{"X-Multi", {"a", "b"}}, {"Content-Type", {"text/plain"}}}};
    auto res = httpy::to_beast(std::move(r), req);
    CHECK(res.result_int() == 201);
    CHECK(res.reason() == "Created");
    CHECK(res.version() == 11);
    CHECK(res.keep_alive());
    CHECK(res.body() == "created");
    CHECK(res[http::field::content_length] == "7");
    CHECK(res[http::field::server] == "httpy");
    CHECK(res[http::field::date].ends_with(" GMT"));
    const std::string wire = wire_of(res);
    CHECK(wire.starts_with("HTTP/1.1 201 Created\r\n"));
    CHECK(wire.find("X-Multi: a\r\nX-Multi: b\r\nContent-Type: text/plain\r\n") !=
          std::string::npos);
    CHECK(wire.ends_with("\r\n\r\ncreated"));
}

TEST_CASE("the handler's own Date and Server are kept, its framing headers are not") {
    auto req = parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    httpy::response r{200, "four", {{"Server", {"mine"}}, {"Date", {"then"}},
                                    {"Content-Length", {"999"}}, {"Transfer-Encoding", {"chunked"}},
                                    {"Connection", {"upgrade"}}}};
    auto res = httpy::to_beast(std::move(r), req);
    CHECK(res[http::field::server] == "mine");
    CHECK(res[http::field::date] == "then");
    CHECK(lines_named(res, "Content-Length") == 1);
    CHECK(res[http::field::content_length] == "4");
    CHECK(lines_named(res, "Transfer-Encoding") == 0);
    CHECK(lines_named(res, "Connection") == 0);
}

TEST_CASE("header lines that could inject headers are left out") {
    auto req = parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    httpy::response r{200, "", {{"X-Ok", {"fine", "bad\r\nSet-Cookie: evil"}},
                                {"Bad Name", {"v"}}, {"X-Nul", {"a\0b"s}}}};
    auto res = httpy::to_beast(std::move(r), req);
    CHECK(lines_named(res, "X-Ok") == 1);
    CHECK(res["X-Ok"] == "fine");
    CHECK(lines_named(res, "Bad Name") == 0);
    CHECK(lines_named(res, "X-Nul") == 0);
    CHECK(wire_of(res).find("evil") == std::string::npos);
}

TEST_CASE("a HEAD request's response has the body's Content-Length but no body") {
    auto req = parse("HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n");
    auto res = httpy::to_beast({200, "twelve bytes", {}}, req);
    CHECK(res[http::field::content_length] == "12");
    CHECK(res.body().empty());
    CHECK(wire_of(res).ends_with("Content-Length: 12\r\n\r\n"));
}

TEST_CASE("the request's version and keep-alive are carried over") {
    struct expectation {
        std::string_view request;
        httpy::fields headers;
        unsigned version;
        bool keep_alive;
        std::string_view connection; // the Connection header sent, "" for none
    };
    const expectation cases[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", {}, 11, true, ""},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", {}, 11, false, "close"},
        {"GET / HTTP/1.0\r\n\r\n", {}, 10, false, ""},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", {}, 10, true, "keep-alive"},
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", {{"Connection", {"close"}}}, 11, false, "close"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.request);
        auto req = parse(c.request);
        auto res = httpy::to_beast({200, "ok", c.headers}, req);
        CHECK(res.version() == c.version);
        CHECK(res.keep_alive() == c.keep_alive);
        CHECK(res[http::field::connection] == c.connection);
    }
}

TEST_CASE("1xx, 204 and 304 responses carry neither a body nor a Content-Length") {
    auto req = parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    for (int status : {103, 204, 304}) {
        CAPTURE(status);
        auto res = httpy::to_beast({status, "not sent", {}}, req);
        CHECK(res.result_int() == static_cast<unsigned>(status));
        CHECK(res.body().empty());
        CHECK(lines_named(res, "Content-Length") == 0);
    }
}

TEST_CASE("a binary response body reaches the wire intact") {
    auto req = parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    const std::string body = "\0\xff\r\n\x80 end"s;
    auto res = httpy::to_beast({200, body, {}}, req);
    CHECK(res.body() == body);
    CHECK(wire_of(res).ends_with("\r\n\r\n" + body));
}

TEST_CASE("a status outside 100..599 is answered as 500, an unlisted one with httpy's phrase") {
    auto req = parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(httpy::to_beast({1000, "x", {}}, req).result_int() == 500);
    CHECK(httpy::to_beast({0, "x", {}}, req).result_int() == 500);
    auto unlisted = httpy::to_beast({299, "x", {}}, req);
    CHECK(unlisted.result_int() == 299);
    CHECK(unlisted.reason() == httpy::reason_phrase(299));
}

TEST_CASE("a refused target is answered 400 through to_beast") {
    auto req = parse("GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n");
    REQUIRE_FALSE(httpy::from_beast(req));
    auto res = httpy::to_beast(httpy::status_response(400), req);
    CHECK(res.result_int() == 400);
    CHECK(res.keep_alive());
}
