#include <doctest/doctest.h>

#include "httpy/header_name.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace std::string_view_literals;

namespace {

struct canonical_case {
    std::string_view input;
    std::string_view expected;
};

// Mostly Go's own table (net/textproto reader_test.go), plus the request headers httpy sees.
const std::vector<canonical_case> canonical_cases = {
    {"a-b-c", "A-B-C"},
    {"a-1-c", "A-1-C"},
    {"User-Agent", "User-Agent"},
    {"uSER-aGENT", "User-Agent"},
    {"user-agent", "User-Agent"},
    {"USER-AGENT", "User-Agent"},
    {"x-sleep", "X-Sleep"},
    {"content-type", "Content-Type"},
    {"content-md5", "Content-Md5"},
    {"www-authenticate", "Www-Authenticate"},
    {"host", "Host"},
    {"a", "A"},
    {"A", "A"},
    {"foo-bar_baz", "Foo-Bar_baz"},
    {"foo-bar$baz", "Foo-Bar$baz"},
    {"foo-bar~baz", "Foo-Bar~baz"},
    {"foo-bar*baz", "Foo-Bar*baz"},
    {"foo.bar-baz", "Foo.bar-Baz"},
    {"x--y", "X--Y"},
    {"-foo", "-Foo"},
    {"foo-", "Foo-"},
    {"1abc-def", "1abc-Def"},
    {"x-1b", "X-1b"},
    {"X_FORWARDED_FOR", "X_forwarded_for"},
    {"sec-ch-ua-mobile", "Sec-Ch-Ua-Mobile"},
    {"!#$%&'*+-.^_`|~", "!#$%&'*+-.^_`|~"},
    // Not tokens: returned exactly as given.
    {"", ""},
    {"üser-agenT", "üser-agenT"},
    {"a B", "a B"},
    {"C Ontent-Transfer-Encoding", "C Ontent-Transfer-Encoding"},
    {"foo bar", "foo bar"},
    {"user-agent ", "user-agent "},
    {"foo:bar", "foo:bar"},
    {"foo\tbar", "foo\tbar"},
    {"x-a\r", "x-a\r"},
    {"x-(a)", "x-(a)"},
    {"x-\"q\"", "x-\"q\""},
    {"x-a/b", "x-a/b"},
    {"x-a@b", "x-a@b"},
    {"x-a\0b"sv, "x-a\0b"sv},
    {"x-\x7f", "x-\x7f"},
};

} // namespace

TEST_CASE("canonical_header_name follows Go's CanonicalMIMEHeaderKey table") {
    for (const auto& [input, expected] : canonical_cases) {
        CAPTURE(input);
        CHECK(httpy::canonical_header_name(input) == expected);
    }
}

TEST_CASE("canonical_header_name is idempotent") {
    for (const auto& [input, expected] : canonical_cases) {
        CAPTURE(input);
        CHECK(httpy::canonical_header_name(httpy::canonical_header_name(input)) == expected);
    }
}

TEST_CASE("is_header_token accepts every RFC 9110 tchar and nothing else") {
    const std::string_view specials = "!#$%&'*+-.^_`|~";
    for (int c = 0; c < 256; ++c) {
        const char ch = static_cast<char>(c);
        const bool expected = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                              (c >= 'A' && c <= 'Z') || specials.find(ch) != std::string_view::npos;
        CAPTURE(c);
        CHECK(httpy::is_header_token(std::string_view(&ch, 1)) == expected);
    }
}

TEST_CASE("is_header_token refuses empty names and names with separators") {
    CHECK_FALSE(httpy::is_header_token(""));
    CHECK_FALSE(httpy::is_header_token("Bad Name"));
    CHECK_FALSE(httpy::is_header_token("X-A:"));
    CHECK_FALSE(httpy::is_header_token("X-A\r\nSet-Cookie"));
    CHECK_FALSE(httpy::is_header_token("X-\xc3\xa9"));
    CHECK(httpy::is_header_token("X-Request-Id"));
    CHECK(httpy::is_header_token("x_custom"));
}

TEST_CASE("has_forbidden_header_chars finds CR, LF and NUL anywhere") {
    CHECK(httpy::has_forbidden_header_chars("a\rb"));
    CHECK(httpy::has_forbidden_header_chars("a\nb"));
    CHECK(httpy::has_forbidden_header_chars("a\0b"sv));
    CHECK(httpy::has_forbidden_header_chars("\r"));
    CHECK(httpy::has_forbidden_header_chars("value\n"));
    CHECK_FALSE(httpy::has_forbidden_header_chars(""));
    CHECK_FALSE(httpy::has_forbidden_header_chars("text/html; charset=utf-8"));
    CHECK_FALSE(httpy::has_forbidden_header_chars("tab\tand \xc3\xa9 and \x7f are allowed"));
}

TEST_CASE("trim_whitespace removes spaces and tabs at either end and nothing inside") {
    CHECK(httpy::trim_whitespace(" \t chunked \t") == "chunked");
    CHECK(httpy::trim_whitespace("a b") == "a b");
    CHECK(httpy::trim_whitespace(" \t ").empty());
    CHECK(httpy::trim_whitespace("").empty());
    CHECK(httpy::trim_whitespace("\r\nx\r\n") == "\r\nx\r\n");
}
