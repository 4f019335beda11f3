#include "httpy/method.hpp"

#include <doctest/doctest.h>

#include <array>
#include <string>

using httpy::method;

TEST_CASE("every method parses from its upper-case name and prints back to it") {
    constexpr std::array names = {"GET",    "HEAD",    "POST",    "PUT",  "PATCH",
                                  "DELETE", "OPTIONS", "CONNECT", "TRACE"};
    for (const auto* name : names) {
        CAPTURE(name);
        auto m = httpy::parse_method(name);
        REQUIRE(m.has_value());
        CHECK(httpy::to_string(*m) == name);
    }
}

TEST_CASE("names map to the matching enumerators") {
    CHECK(httpy::parse_method("GET") == method::get);
    CHECK(httpy::parse_method("HEAD") == method::head);
    CHECK(httpy::parse_method("DELETE") == method::delete_);
    CHECK(httpy::parse_method("TRACE") == method::trace);
    CHECK(httpy::to_string(method::patch) == "PATCH");
    CHECK(httpy::to_string(method::options) == "OPTIONS");
}

TEST_CASE("a lower-case or mixed-case name is not a method") {
    CHECK_FALSE(httpy::parse_method("get").has_value());
    CHECK_FALSE(httpy::parse_method("Post").has_value());
}

TEST_CASE("unknown, empty and padded names are not methods") {
    CHECK_FALSE(httpy::parse_method("").has_value());
    CHECK_FALSE(httpy::parse_method("PROPFIND").has_value());
    CHECK_FALSE(httpy::parse_method("GET ").has_value());
    CHECK_FALSE(httpy::parse_method("GE").has_value());
    CHECK_FALSE(httpy::parse_method(std::string("GET\0", 4)).has_value());
}
