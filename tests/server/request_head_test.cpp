#include "server/request_head.hpp"

#include "server/request_error.hpp"

#include <boost/beast/http/error.hpp>
#include <doctest/doctest.h>

#include <string>

namespace http = boost::beast::http;
using httpy::detail::request_error;
using httpy::detail::screen_request_head;

namespace {

httpy::detail::head_screen screen(std::string& head, std::size_t limit = 1024) {
    return screen_request_head({head.data(), head.size()}, limit);
}

} // namespace

TEST_CASE("a complete head is measured, leading empty lines skipped, the body left alone") {
    std::string in = "\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\nbody";
    const auto out = screen(in);
    CHECK_FALSE(out.ec);
    CHECK(out.skip == 4);
    CHECK(out.size == std::string("GET / HTTP/1.1\r\nHost: t\r\n\r\n").size());
}

TEST_CASE("an incomplete head asks for more, and is searched on from where it stopped") {
    std::string in = "GET / HTTP/1.1\r\nHost: t\r\n\r";
    auto out = screen(in);
    CHECK_FALSE(out.ec);
    CHECK(out.size == 0);
    in += "\n";
    out = screen_request_head({in.data(), in.size()}, 1024, out.searched);
    CHECK(out.size == in.size());
}

TEST_CASE("the head size limit is exact, complete or not") {
    std::string exact = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    CHECK_FALSE(screen(exact, exact.size()).ec);
    CHECK(screen(exact, exact.size() - 1).ec == http::error::header_limit);
    std::string endless = "GET / HTTP/1.1\r\nX: " + std::string(2000, 'v');
    CHECK(screen(endless).ec == http::error::header_limit);
}

TEST_CASE("obs-fold and bare LF line endings are refused") {
    for (const char* head : {"GET / HTTP/1.1\r\nHost:\r\n t\r\n\r\n",
                             "GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n\tTransfer-Encoding: x\r\n\r\n"}) {
        std::string in = head;
        CHECK(screen(in).ec == request_error::obs_fold);
    }
    std::string lf = "GET / HTTP/1.1\nHost: t\n\n";
    CHECK(screen(lf).ec == http::error::bad_line_ending);
    std::string lf_incomplete = "GET / HTTP/1.1\nHo";
    CHECK(screen(lf_incomplete).ec == http::error::bad_line_ending);
}

TEST_CASE("a bare CR in the head is refused at once, complete head or not") {
    for (const char* head : {"GET / HTTP/1.1\rHost: t\r\r", "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n",
                             "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\rb", "GET /\r HTTP/1.1\r\n",
                             "\r\r\nGET / HTTP/1.1\r\n\r\n"}) {
        std::string in = head;
        CHECK_MESSAGE(screen(in).ec == http::error::bad_line_ending, head);
    }
}

TEST_CASE("a CR that is the last byte received waits for its LF, then the head is read") {
    std::string in = "GET / HTTP/1.1\r";
    auto out = screen(in);
    CHECK_FALSE(out.ec);
    CHECK(out.size == 0);
    in += "\nHost: t\r";
    out = screen_request_head({in.data(), in.size()}, 1024, out.searched);
    CHECK_FALSE(out.ec);
    in += "\n\r\n";
    out = screen_request_head({in.data(), in.size()}, 1024, out.searched);
    CHECK_FALSE(out.ec);
    CHECK(out.size == in.size());
    std::string bare = in.substr(0, in.size() - 3) + "x";
    CHECK(screen(bare).ec == http::error::bad_line_ending);
}

TEST_CASE("HTTP/1.x above 1.1 is read as HTTP/1.1 and another major version is 505") {
    std::string v12 = "GET / HTTP/1.2\r\nHost: t\r\n\r\n";
    CHECK_FALSE(screen(v12).ec);
    CHECK(v12 == "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    for (const char* head : {"GET / HTTP/2.0\r\n\r\n", "GET / HTTP/0.9\r\n\r\n"}) {
        std::string in = head;
        CHECK(screen(in).ec == request_error::unsupported_version);
        CHECK(httpy::detail::status_of(request_error::unsupported_version) == 505);
    }
    std::string odd = "GET / HTTP/1.10\r\n\r\n"; // not the screen's to judge: the parser refuses
    CHECK_FALSE(screen(odd).ec);
    CHECK(odd == "GET / HTTP/1.10\r\n\r\n");
}
