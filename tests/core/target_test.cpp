#include "httpy/target.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

using httpy::fields;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {

struct query_case {
    std::string_view query;
    std::optional<fields> expected; // what Go's url.ParseQuery gives; nullopt = Go's error
};

struct path_case {
    std::string_view path;
    std::optional<std::string> expected;
};

} // namespace

TEST_CASE("parse_query gives the same result as Go's url.ParseQuery") {
    const std::vector<query_case> cases = {
        {"", fields{}},
        {"a=1&b=2", fields{{"a", {"1"}}, {"b", {"2"}}}},
        {"a=1&a=2&a=3", fields{{"a", {"1", "2", "3"}}}},
        {"a=1&b=2&a=3", fields{{"a", {"1", "3"}}, {"b", {"2"}}}},
        {"a", fields{{"a", {""}}}},
        {"a=", fields{{"a", {""}}}},
        {"=x", fields{{"", {"x"}}}},
        {"=", fields{{"", {""}}}},
        {"&&a=1&", fields{{"a", {"1"}}}},
        {"&", fields{}},
        {"a+b=c+d", fields{{"a b", {"c d"}}}},
        {"a%20b=%41", fields{{"a b", {"A"}}}},
        {"%41=%2B", fields{{"A", {"+"}}}},
        {"e=%C3%A9", fields{{"e", {"\xC3\xA9"}}}},
        {"e=%c3%a9", fields{{"e", {"\xC3\xA9"}}}},
        {"raw=%E9", fields{{"raw", {"\xE9"}}}},
        {"a=%00", fields{{"a", {"\0"s}}}},
        {"a=b=c", fields{{"a", {"b=c"}}}},
        {"a=b?c", fields{{"a", {"b?c"}}}},
        {"%zz=1", std::nullopt},
        {"a=%", std::nullopt},
        {"a=%4", std::nullopt},
        {"a=%4g", std::nullopt},
        {"a=1&b=%zz", std::nullopt},
        {"a=1;b=2", std::nullopt},
        {"a;b", std::nullopt},
        {"a=1&;", std::nullopt},
    };
    for (const auto& c : cases) {
        CAPTURE(c.query);
        CHECK(httpy::parse_query(c.query) == c.expected);
    }
}

TEST_CASE("a repeated query key keeps its first position among the keys") {
    auto query = httpy::parse_query("b=1&a=2&b=3");
    REQUIRE(query);
    std::vector<std::string> names;
    for (const auto& [name, values] : *query)
        names.push_back(name);
    CHECK(names == std::vector<std::string>{"b", "a"});
}

TEST_CASE("parse_query refuses more pairs than its limit (1000 by default), empty ones uncounted") {
    std::string at_limit;
    for (int i = 0; i < 1000; ++i)
        at_limit += "k" + std::to_string(i) + "=v&&";
    const auto parsed = httpy::parse_query(at_limit);
    REQUIRE(parsed);
    CHECK(parsed->size() == 1000);
    CHECK_FALSE(httpy::parse_query(at_limit + "one=more"));
    CHECK_FALSE(httpy::parse_query(at_limit + "k0=again"));
    CHECK(httpy::parse_query(std::string(20000, '&')) == fields{});
    CHECK(httpy::parse_query("a&b&c", 3));
    CHECK_FALSE(httpy::parse_query("a&b&c", 2));
    CHECK_FALSE(httpy::parse_target("/p?a&b&c", 2));
    CHECK(httpy::count_query_params("&a&&b=1&") == 2);
    CHECK(httpy::count_query_params("") == 0);
}

TEST_CASE("percent_decode_path decodes like Go's url.PathUnescape and refuses NUL") {
    const std::vector<path_case> cases = {
        {"", ""},
        {"/", "/"},
        {"/a%2Fb", "/a/b"},
        {"/a+b", "/a+b"},
        {"/a%2Bb", "/a+b"},
        {"/a%20b", "/a b"},
        {"/caf%C3%A9", "/caf\xC3\xA9"},
        {"/caf%c3%a9", "/caf\xC3\xA9"},
        {"/%zz", std::nullopt},
        {"/%", std::nullopt},
        {"/%4", std::nullopt},
        {"/%g4", std::nullopt},
        {"/a%00b", std::nullopt},
    };
    for (const auto& c : cases) {
        CAPTURE(c.path);
        CHECK(httpy::percent_decode_path(c.path) == c.expected);
    }
}

TEST_CASE("parse_target splits the path from the query and decodes both") {
    auto target = httpy::parse_target("/hello/bob?x=1&y=a+b");
    REQUIRE(target);
    CHECK(target->path == "/hello/bob");
    CHECK(target->query == fields{{"x", {"1"}}, {"y", {"a b"}}});
}

TEST_CASE("parse_target gives an empty query for a bare path or a trailing '?'") {
    for (std::string_view raw : {"/", "/?"}) {
        CAPTURE(raw);
        auto target = httpy::parse_target(raw);
        REQUIRE(target);
        CHECK(target->path == "/");
        CHECK(target->query.empty());
    }
}

TEST_CASE("parse_target splits at the first '?' only, after which '?' belongs to the query") {
    auto target = httpy::parse_target("/a%3Fb?c?d=e");
    REQUIRE(target);
    CHECK(target->path == "/a?b");
    CHECK(target->query == fields{{"c?d", {"e"}}});
}

TEST_CASE("parse_target keeps an encoded slash and a plus in the decoded path") {
    auto target = httpy::parse_target("/a%2Fb+c");
    REQUIRE(target);
    CHECK(target->path == "/a/b+c");
}

TEST_CASE("parse_target accepts raw non-ASCII bytes in the path as Go does") {
    auto target = httpy::parse_target("/caf\xC3\xA9");
    REQUIRE(target);
    CHECK(target->path == "/caf\xC3\xA9");
}

TEST_CASE("parse_target keeps a NUL decoded from the query") {
    auto target = httpy::parse_target("/a?x=%00");
    REQUIRE(target);
    CHECK(target->query == fields{{"x", {"\0"s}}});
}

TEST_CASE("parse_target refuses targets that are not origin-form") {
    for (std::string_view raw : {"", "hello", "*", "http://x/a", "?a=1"}) {
        CAPTURE(raw);
        CHECK_FALSE(httpy::parse_target(raw));
    }
}

TEST_CASE("parse_target refuses control bytes, space and '#' anywhere in the target") {
    for (std::string_view raw : {"/a\x01", "/a\x7f", "/a\tb", "/a\rb", "/a\nb", "/a b", "/a?x=1 2",
                                 "/a?x=\x01", "/a#frag", "/a?x=1#frag"}) {
        CAPTURE(raw);
        CHECK_FALSE(httpy::parse_target(raw));
    }
    CHECK_FALSE(httpy::parse_target("/a\0b"sv));
}

TEST_CASE("parse_target refuses a path that decodes to NUL") {
    CHECK_FALSE(httpy::parse_target("/a%00b"));
    CHECK_FALSE(httpy::parse_target("/%00?x=1"));
}

TEST_CASE("parse_target refuses a malformed escape or ';' in either part") {
    for (std::string_view raw : {"/%zz", "/a%", "/a%4", "/a?x=%zz", "/a?x=%", "/a?x=1;y=2"}) {
        CAPTURE(raw);
        CHECK_FALSE(httpy::parse_target(raw));
    }
}

TEST_CASE("an absolute-form target is reduced to its origin form") {
    CHECK(httpy::origin_form("http://t/still/alive?x=1") == "/still/alive?x=1");
    CHECK(httpy::origin_form("HTTPS://t:8080/a") == "/a");
    CHECK(httpy::origin_form("http://t") == "/");
    CHECK(httpy::origin_form("http://t?x=1") == "/?x=1");
    CHECK(httpy::origin_form("/plain?x") == "/plain?x");
    CHECK(httpy::origin_form("ftp://t/a") == "ftp://t/a"); // not HTTP: left for parse_target to refuse
    CHECK(httpy::origin_form("*") == "*");
}
