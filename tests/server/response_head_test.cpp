#include "server/response_head.hpp"

#include <doctest/doctest.h>

#include <regex>
#include <string>
#include <vector>

using httpy::response;
using httpy::detail::bodyless_status;
using httpy::detail::response_head;

namespace {

// The head's lines without their CRLF, the blank line that ends the head left out.
std::vector<std::string> lines_of(const std::string& head) {
    REQUIRE(head.ends_with("\r\n\r\n"));
    std::vector<std::string> out;
    std::size_t pos = 0;
    for (std::size_t end; (end = head.find("\r\n", pos)) != std::string::npos; pos = end + 2)
        out.push_back(head.substr(pos, end - pos));
    REQUIRE(out.back().empty());
    out.pop_back();
    return out;
}

// The values of header `name` (exact case) in `head`, in order.
std::vector<std::string> values(const std::string& head, const std::string& name) {
    std::vector<std::string> out;
    const auto lines = lines_of(head);
    for (std::size_t i = 1; i < lines.size(); ++i)
        if (lines[i].starts_with(name + ": "))
            out.push_back(lines[i].substr(name.size() + 2));
    return out;
}

response with(int status, std::string body, httpy::fields headers = {}) {
    return response{status, std::move(body), std::move(headers)};
}

} // namespace

TEST_CASE("the status line carries the version, the status and its reason phrase") {
    CHECK(lines_of(response_head(with(200, ""), 11, true)).front() == "HTTP/1.1 200 OK");
    CHECK(lines_of(response_head(with(404, ""), 11, true)).front() == "HTTP/1.1 404 Not Found");
    CHECK(lines_of(response_head(with(201, ""), 10, false)).front() == "HTTP/1.0 201 Created");
    CHECK(lines_of(response_head(with(599, ""), 11, true)).front() == "HTTP/1.1 599 Unknown");
}

TEST_CASE("Date and Server are added when the handler did not set them") {
    const std::string head = response_head(with(200, "x"), 11, true);
    CHECK(values(head, "Server") == std::vector<std::string>{"httpy"});
    const auto date = values(head, "Date");
    REQUIRE(date.size() == 1);
    CHECK(std::regex_match(date[0], std::regex(R"([A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} )"
                                               R"(\d{2}:\d{2}:\d{2} GMT)")));
}

TEST_CASE("a handler's Date and Server are sent instead of the server's, whatever their case") {
    const std::string head = response_head(
        with(200, "x", {{"server", {"custom/1"}}, {"DATE", {"Sun, 06 Nov 1994 08:49:37 GMT"}}}),
        11, true);
    CHECK(values(head, "server") == std::vector<std::string>{"custom/1"});
    CHECK(values(head, "DATE") == std::vector<std::string>{"Sun, 06 Nov 1994 08:49:37 GMT"});
    CHECK(values(head, "Server").empty());
    CHECK(values(head, "Date").empty());
}

TEST_CASE("Content-Length is the body's size whatever the handler set") {
    const std::string head = response_head(
        with(200, "four", {{"Content-Length", {"100"}}, {"content-length", {"7"}}}), 11, true);
    CHECK(values(head, "Content-Length") == std::vector<std::string>{"4"});
    CHECK(values(head, "content-length").empty());
    CHECK(values(response_head(with(200, ""), 11, true), "Content-Length") ==
          std::vector<std::string>{"0"});
    CHECK(values(response_head(with(500, std::string(123456, 'a')), 11, true), "Content-Length")
          == std::vector<std::string>{"123456"});
}

TEST_CASE("a handler's Transfer-Encoding and Connection are not passed through") {
    const std::string head = response_head(
        with(200, "body", {{"Transfer-Encoding", {"chunked"}}, {"Connection", {"upgrade"}},
                           {"connection", {"close"}}, {"X-Kept", {"yes"}}}),
        11, true);
    CHECK(head.find("chunked") == std::string::npos);
    CHECK(head.find("upgrade") == std::string::npos);
    CHECK(head.find("onnection") == std::string::npos); // keep-alive on 1.1: no Connection line
    CHECK(values(head, "X-Kept") == std::vector<std::string>{"yes"});
}

TEST_CASE("the handler's headers keep their order, one line per value") {
    const std::string head = response_head(
        with(200, "", {{"X-B", {"1"}}, {"Set-Cookie", {"a=1", "b=2"}}, {"X-A", {"2"}}}), 11, true);
    const auto lines = lines_of(head);
    const std::vector<std::string> handler_lines(lines.begin() + 1, lines.begin() + 5);
    CHECK(handler_lines ==
          std::vector<std::string>{"X-B: 1", "Set-Cookie: a=1", "Set-Cookie: b=2", "X-A: 2"});
}

TEST_CASE("HTTP/1.1 says Connection: close only when the connection closes") {
    CHECK(values(response_head(with(200, ""), 11, false), "Connection") ==
          std::vector<std::string>{"close"});
    CHECK(values(response_head(with(200, ""), 11, true), "Connection").empty());
}

TEST_CASE("HTTP/1.0 says Connection: keep-alive only when the connection stays open") {
    CHECK(values(response_head(with(200, ""), 10, true), "Connection") ==
          std::vector<std::string>{"keep-alive"});
    CHECK(values(response_head(with(200, ""), 10, false), "Connection").empty());
}

TEST_CASE("204, 304 and 1xx have no Content-Length, even with a body or a handler's length") {
    for (int status : {204, 304, 100, 199}) {
        CAPTURE(status);
        CHECK(bodyless_status(status));
        const std::string head =
            response_head(with(status, "ignored", {{"Content-Length", {"7"}}}), 11, true);
        CHECK(head.find("Content-Length") == std::string::npos);
    }
    for (int status : {200, 205, 301, 404, 500}) {
        CAPTURE(status);
        CHECK_FALSE(bodyless_status(status));
        CHECK(values(response_head(with(status, ""), 11, true), "Content-Length").size() == 1);
    }
}

TEST_CASE("the head is the status line, the header lines and a blank line, nothing more") {
    const std::string head = response_head(with(200, "the body"), 11, false);
    CHECK(head.find("the body") == std::string::npos);
    CHECK(head.find("\r\n\r\n") == head.size() - 4);
    for (const auto& line : lines_of(head))
        CHECK(line.find('\n') == std::string::npos);
}
