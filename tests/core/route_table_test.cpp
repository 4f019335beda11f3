#include "httpy/route_table.hpp"

#include "httpy/config_error.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using httpy::method;
using httpy::route;
using httpy::route_table;

namespace {

std::string config_error_of(const httpy::raw_routes& raw) {
    try {
        route_table::parse(raw);
    } catch (const httpy::config_error& e) {
        return e.what();
    }
    return "no config_error";
}

bool mentions(const std::string& message, const std::string& text) {
    return message.find(text) != std::string::npos;
}

} // namespace

TEST_CASE("an empty mapping gives an empty table") {
    auto table = route_table::parse({});
    CHECK(table.empty());
    CHECK(table.routes().empty());
}

TEST_CASE("the pattern -> methods form gives routes ordered by pattern") {
    auto table = route_table::parse({{"/hello/:target", {"GET", "POST"}}, {"/", {"GET"}}});
    CHECK_FALSE(table.empty());
    CHECK(table.routes() == std::vector<route>{{"/", {method::get}},
                                               {"/hello/:target", {method::get, method::post}}});
}

TEST_CASE("methods of a route are sorted in enum order") {
    auto table = route_table::parse({{"/a", {"TRACE", "DELETE", "GET"}}});
    CHECK(table.routes() ==
          std::vector<route>{{"/a", {method::get, method::delete_, method::trace}}});
}

TEST_CASE("the method -> patterns form is read and merged into one route per pattern") {
    auto table = route_table::parse(
        {{"GET", {"/", "/ping", "/hello/:target"}}, {"POST", {"/hello/:target"}}});
    CHECK(table.routes() == std::vector<route>{{"/", {method::get}},
                                               {"/hello/:target", {method::get, method::post}},
                                               {"/ping", {method::get}}});
}

TEST_CASE("both forms of the same routes give the same table") {
    auto by_pattern = route_table::parse({{"/a", {"PUT", "GET"}}, {"/b/*rest", {"PUT"}}});
    auto by_method = route_table::parse({{"GET", {"/a"}}, {"PUT", {"/b/*rest", "/a"}}});
    CHECK(by_pattern.routes() == by_method.routes());
}

TEST_CASE("an unknown or lower-case method is refused naming the route and the method") {
    auto message = config_error_of({{"/hello/:target", {"get"}}});
    CHECK(message == "route \"/hello/:target\": unknown method \"get\" (methods are upper-case: "
                     "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE)");
    CHECK(mentions(config_error_of({{"/", {"GET", "BREW"}}}), "\"BREW\""));
}

TEST_CASE("an empty method list is refused naming the route") {
    auto message = config_error_of({{"/a", {"GET"}}, {"/b", {}}});
    CHECK(mentions(message, "route \"/b\""));
    CHECK(mentions(message, "empty method list"));
}

TEST_CASE("a method listed twice for one route is refused") {
    auto message = config_error_of({{"/a", {"GET", "POST", "GET"}}});
    CHECK(mentions(message, "route \"/a\""));
    CHECK(mentions(message, "\"GET\" listed twice"));
}

TEST_CASE("a pattern listed twice under one method in the inverted form is refused") {
    auto message = config_error_of({{"GET", {"/a", "/a"}}});
    CHECK(mentions(message, "route \"/a\""));
    CHECK(mentions(message, "\"GET\" listed twice"));
}

TEST_CASE("a malformed pattern is refused naming it, in either form") {
    CHECK(mentions(config_error_of({{"/a//b", {"GET"}}}), "route \"/a//b\""));
    CHECK(mentions(config_error_of({{"/a/*x/y", {"GET"}}}), "route \"/a/*x/y\""));
    CHECK(mentions(config_error_of({{"GET", {"/ok", "/bad:x"}}}), "route \"/bad:x\""));
}

TEST_CASE("a key that is neither a pattern nor a method is refused as a pattern") {
    auto message = config_error_of({{"/a", {"GET"}}, {"hello", {"GET"}}});
    CHECK(mentions(message, "route \"hello\""));
    CHECK(mentions(message, "start with '/'"));
}

TEST_CASE("method keys with a value that is not a pattern list are refused naming the method") {
    auto not_a_pattern = config_error_of({{"GET", {"/a"}}, {"POST", {"/b", "c"}}});
    CHECK(mentions(not_a_pattern, "method \"POST\""));
    CHECK(mentions(not_a_pattern, "\"c\""));
    auto empty = config_error_of({{"GET", {}}});
    CHECK(mentions(empty, "method \"GET\""));
    CHECK(mentions(empty, "empty route list"));
}

TEST_CASE("routes that conflict with each other are refused at parse time") {
    auto message = config_error_of({{"/a/:x", {"GET"}}, {"/a/:y/b", {"GET"}}});
    CHECK(mentions(message, "/a/:x"));
    CHECK(mentions(message, "/a/:y/b"));
    CHECK(mentions(config_error_of({{"/f/*a", {"GET"}}, {"/f/*b", {"POST"}}}), "/f/*"));
}
