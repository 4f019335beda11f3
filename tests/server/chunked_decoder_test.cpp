#include "server/chunked_decoder.hpp"

#include <boost/beast/http/error.hpp>
#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace http = boost::beast::http;
using namespace std::string_view_literals;
using httpy::detail::chunked_decoder;

namespace {

struct decoded {
    std::string body;
    boost::system::error_code ec;
    bool done = false;
    std::size_t used = 0; // bytes of the input taken
};

// Feeds `in` in pieces of `step` bytes, as a socket might deliver it.
decoded decode(std::string_view in, std::size_t step = 1, std::size_t max_body = 1024) {
    chunked_decoder decoder(max_body, 256);
    decoded out;
    while (out.used < in.size() && !out.ec && !decoder.done()) {
        const auto piece = in.substr(out.used, step);
        out.used += decoder.put(piece, out.body, out.ec);
    }
    out.done = decoder.done();
    return out;
}

} // namespace

TEST_CASE("valid chunked bodies decode the same whatever the pieces they arrive in") {
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"5\r\nhello\r\n0\r\n\r\n", "hello"},
        {"A\r\n0123456789\r\n0\r\n\r\n", "0123456789"},
        {"0005\r\nhello\r\n000\r\n\r\n", "hello"},
        {"00000000000000000000000000000005\r\nhello\r\n0\r\n\r\n", "hello"},
        {"6\r\n\0\r\n\r\n\0\r\n0\r\n\r\n"sv, "\0\r\n\r\n\0"sv},
        {"5;name=value\r\nhello\r\n0\r\n\r\n", "hello"},
        {"5;name=\"quoted ;= \\\" value\"\r\nhello\r\n0\r\n\r\n", "hello"},
        {"5;a=1;b;c=\"x\"\r\nhello\r\n0;last=1\r\n\r\n", "hello"},
        {"5 ; name = value\r\nhello\r\n0\r\n\r\n", "hello"},
        {"2\r\nhe\r\n3\r\nllo\r\n0\r\nX-Trailer: v\r\nY: \r\n\r\n", "hello"},
    };
    for (const auto& [in, body] : cases) {
        for (std::size_t step : {std::size_t{1}, std::size_t{3}, in.size()}) {
            CAPTURE(in);
            CAPTURE(step);
            const auto out = decode(in, step);
            CHECK_FALSE(out.ec);
            CHECK(out.done);
            CHECK(out.body == body);
            CHECK(out.used == in.size());
        }
    }
}

TEST_CASE("bytes after the final CRLF are left for the next request") {
    chunked_decoder decoder(1024, 256);
    std::string body;
    boost::system::error_code ec;
    const std::string_view in = "1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    CHECK(decoder.put(in, body, ec) == in.find("GET"));
    CHECK(decoder.done());
    CHECK(body == "a");
}

TEST_CASE("bad framing is refused at the first bad byte, not at a line end that may never come") {
    const std::pair<std::string_view, std::string_view> cases[] = {
        // input, the prefix after which it fails
        {"0x5\r\n", "0x"},         {"-5\r\n", "-"},          {"g\r\n", "g"},
        {"5g\r\n", "5g"},          {"\r\n", "\r"},           {" 5\r\n", " "},
        {"5 \r\n", "5 \r"},        {"5\0\r\n"sv, "5\0"sv},   {"5\nhello", "5\n"},
        {"5\rhello", "5\rh"},      {"3\r\nhello", "3\r\nhel" "l"},
        {"5\r\nhello\n", "5\r\nhello\n"}, {"5;\r\n", "5;\r"}, {"5;=v\r\n", "5;="},
        {"5;na(me=v\r\n", "5;na("}, {"5;a=\x01\r\n", "5;a=\x01"}, {"5;a\nb", "5;a\n"},
        {"5;a=\"open\r\nhello", "5;a=\"open\r"}, {"10000000000000000\r\n", "10000000000000000"},
        {"5\r\nhello\r\n0\r\nbad trailer\r\n", "5\r\nhello\r\n0\r\nbad "},
        {"5\r\nhello\r\n0\r\nX-T : v\r\n", "5\r\nhello\r\n0\r\nX-T "},
        {"5\r\nhello\r\n0\r\nX-T: a\0b\r\n"sv, "5\r\nhello\r\n0\r\nX-T: a\0"sv},
    };
    for (const auto& [in, prefix] : cases) {
        CAPTURE(in);
        const auto out = decode(in);
        CHECK(out.ec);
        CHECK_FALSE(out.done);
        CHECK(out.used == prefix.size());
    }
}

TEST_CASE("a chunk size over the body limit is 413 as soon as the size is known") {
    CHECK(decode("401\r\n", 1, 1024).ec == http::error::body_limit);
    CHECK(decode("ffffffffffffffff;x\r\n", 1, 1024).ec == http::error::body_limit);
    CHECK(decode("200\r\n" + std::string(512, 'a') + "\r\n201\r\n", 64, 1024).ec ==
          http::error::body_limit);
    CHECK_FALSE(decode("400\r\n" + std::string(1024, 'a') + "\r\n0\r\n\r\n", 64, 1024).ec);
}

TEST_CASE("an endless chunk extension or trailer section is refused at the line limit") {
    CHECK(decode("5;a=" + std::string(300, 'x'), 16).ec == http::error::bad_chunk_extension);
    CHECK(decode("0\r\n" + std::string(300, 'x'), 16).ec == http::error::header_limit);
}
