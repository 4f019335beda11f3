#include "httpy/router.hpp"

#include "httpy/config_error.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <variant>
#include <vector>

using httpy::method;
using httpy::router;

namespace {

// A native handler whose response body names it, so a test can tell which route matched.
httpy::native_handler answer(std::string name) {
    return [name](const httpy::request&) { return httpy::response{200, name, {}}; };
}

std::string body_of(const httpy::route_match& m) {
    REQUIRE(m.status == 200);
    REQUIRE(m.handler != nullptr);
    const auto* native = std::get_if<httpy::native_handler>(m.handler);
    REQUIRE(native != nullptr);
    return (*native)(httpy::request{}).body;
}

std::string config_error_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const httpy::config_error& e) {
        return e.what();
    }
    return "no config_error";
}

bool mentions(const std::string& message, const std::string& text) {
    return message.find(text) != std::string::npos;
}

// A stand-in for the Python application: its address is compared, never dereferenced.
// An asynchronous handler standing in for an app's (`app::handler()`): it answers at once,
// with a body naming it, so a test can tell which one a route reaches.
httpy::async_handler fake_app(std::string name = "python") {
    return [name](const httpy::request&, httpy::call_completion done) {
        std::move(done)(httpy::call_result{{}, httpy::response{200, name, {}}});
    };
}

// What the matched asynchronous handler answers.
std::string async_body_of(const httpy::route_match& m) {
    REQUIRE(m.status == 200);
    REQUIRE(m.handler != nullptr);
    const auto* handler = std::get_if<httpy::async_handler>(m.handler);
    REQUIRE(handler != nullptr);
    std::string body;
    (*handler)(httpy::request{}, httpy::call_completion([&body](httpy::call_result r) {
                   body = std::move(r.resp.body);
               }));
    return body;
}

} // namespace

TEST_CASE("a static route matches its exact path with no params") {
    router r;
    r.get("/hello/world", answer("hello"));
    auto m = r.match("GET", "/hello/world");
    CHECK(body_of(m) == "hello");
    CHECK(m.params.empty());
    CHECK(r.match("GET", "/hello").status == 404);
    CHECK(r.match("GET", "/hello/world/more").status == 404);
}

TEST_CASE("the root pattern matches only the root path") {
    router r;
    r.get("/", answer("root"));
    CHECK(body_of(r.match("GET", "/")) == "root");
    CHECK(r.match("GET", "/x").status == 404);
}

TEST_CASE("a parameter captures one segment") {
    router r;
    r.get("/hello/:target", answer("hello"));
    auto m = r.match("GET", "/hello/bob");
    CHECK(body_of(m) == "hello");
    CHECK(m.params == httpy::fields{{"target", {"bob"}}});
    CHECK(r.match("GET", "/hello/bob/x").status == 404);
}

TEST_CASE("a parameter does not match an empty segment") {
    router r;
    r.get("/hello/:target", answer("hello"));
    CHECK(r.match("GET", "/hello/").status == 404);
    CHECK(r.match("GET", "/hello").status == 404);
}

TEST_CASE("parameters come back in pattern order") {
    router r;
    r.get("/:b/x/:a/:c", answer("three"));
    auto m = r.match("GET", "/1/x/2/3");
    REQUIRE(m.status == 200);
    std::vector<std::string> names;
    for (const auto& [name, values] : m.params)
        names.push_back(name);
    CHECK(names == std::vector<std::string>{"b", "a", "c"});
    CHECK(m.params == httpy::fields{{"b", {"1"}}, {"a", {"2"}}, {"c", {"3"}}});
}

TEST_CASE("a catch-all captures the rest of the path with its leading slash") {
    router r;
    r.get("/static/*filepath", answer("static"));
    auto m = r.match("GET", "/static/css/a.css");
    CHECK(body_of(m) == "static");
    CHECK(m.params == httpy::fields{{"filepath", {"/css/a.css"}}});
    CHECK(r.match("GET", "/static/a").params == httpy::fields{{"filepath", {"/a"}}});
}

TEST_CASE("a catch-all matches a bare trailing slash but not the path without it") {
    router r;
    r.get("/static/*filepath", answer("static"));
    CHECK(r.match("GET", "/static/").params == httpy::fields{{"filepath", {"/"}}});
    CHECK(r.match("GET", "/static").status == 404);
}

TEST_CASE("a catch-all at the root captures the whole path") {
    router r;
    r.get("/*all", answer("all"));
    CHECK(r.match("GET", "/").params == httpy::fields{{"all", {"/"}}});
    CHECK(r.match("GET", "/a/b/").params == httpy::fields{{"all", {"/a/b/"}}});
}

TEST_CASE("a static segment wins over a parameter") {
    router r;
    r.get("/users/:id", answer("user"));
    r.get("/users/new", answer("new"));
    CHECK(body_of(r.match("GET", "/users/new")) == "new");
    CHECK(body_of(r.match("GET", "/users/42")) == "user");
}

TEST_CASE("a parameter wins over a catch-all, and a static segment over both") {
    router r;
    r.get("/f/*rest", answer("rest"));
    r.get("/f/:name", answer("name"));
    r.get("/f/index", answer("index"));
    CHECK(body_of(r.match("GET", "/f/index")) == "index");
    CHECK(body_of(r.match("GET", "/f/x")) == "name");
    auto deep = r.match("GET", "/f/x/y");
    CHECK(body_of(deep) == "rest");
    CHECK(deep.params == httpy::fields{{"rest", {"/x/y"}}});
    CHECK(body_of(r.match("GET", "/f/")) == "rest");
}

TEST_CASE("matching backtracks from a static segment to a parameter") {
    router r;
    r.get("/users/new", answer("new"));
    r.get("/users/:id/x", answer("user x"));
    auto m = r.match("GET", "/users/new/x");
    CHECK(body_of(m) == "user x");
    CHECK(m.params == httpy::fields{{"id", {"new"}}});
}

TEST_CASE("matching backtracks from a parameter to a catch-all without stale params") {
    router r;
    r.get("/a/:x/b", answer("param"));
    r.get("/a/*rest", answer("rest"));
    auto m = r.match("GET", "/a/1/c");
    CHECK(body_of(m) == "rest");
    CHECK(m.params == httpy::fields{{"rest", {"/1/c"}}});
}

TEST_CASE("a trailing slash makes a different route") {
    router r;
    r.get("/a", answer("bare"));
    r.get("/b/", answer("slash"));
    CHECK(body_of(r.match("GET", "/a")) == "bare");
    CHECK(r.match("GET", "/a/").status == 404);
    CHECK(body_of(r.match("GET", "/b/")) == "slash");
    CHECK(r.match("GET", "/b").status == 404);
}

TEST_CASE("an unknown path gives 404 with no handler and no allowed methods") {
    router r;
    r.get("/a", answer("a"));
    auto m = r.match("GET", "/nope");
    CHECK(m.status == 404);
    CHECK(m.handler == nullptr);
    CHECK(m.allowed.empty());
    CHECK(router{}.match("GET", "/").status == 404);
}

TEST_CASE("an empty path or one without a leading slash gives 404") {
    router r;
    r.get("/*all", answer("all"));
    CHECK(r.match("GET", "").status == 404);
    CHECK(r.match("GET", "a").status == 404);
    CHECK(r.match("GET", "*").status == 404);
}

TEST_CASE("a path matched with the wrong method gives 405 listing its methods in order") {
    router r;
    r.post("/items/:id", answer("post"));
    r.del("/items/:id", answer("delete"));
    r.put("/items/:id", answer("put"));
    auto m = r.match("GET", "/items/1");
    CHECK(m.status == 405);
    CHECK(m.handler == nullptr);
    CHECK(m.allowed == std::vector<method>{method::post, method::put, method::delete_});
}

TEST_CASE("405 lists the union of every route that fits the path, without duplicates") {
    router r;
    r.get("/users/new", answer("new"));
    r.del("/users/:id", answer("delete"));
    r.get("/users/*rest", answer("rest"));
    auto m = r.match("PUT", "/users/new");
    CHECK(m.status == 405);
    CHECK(m.allowed == std::vector<method>{method::get, method::head, method::delete_});
}

TEST_CASE("the most specific route that has the method wins") {
    router r;
    r.get("/users/new", answer("new"));
    r.post("/users/:id", answer("post user"));
    auto m = r.match("POST", "/users/new");
    CHECK(body_of(m) == "post user");
    CHECK(m.params == httpy::fields{{"id", {"new"}}});
}

TEST_CASE("HEAD falls back to the GET route") {
    router r;
    r.get("/page", answer("get"));
    CHECK(body_of(r.match("HEAD", "/page")) == "get");
}

TEST_CASE("a registered HEAD route wins over the GET fallback") {
    router r;
    r.get("/page", answer("get"));
    r.add(method::head, "/page", answer("head"));
    CHECK(body_of(r.match("HEAD", "/page")) == "head");
    CHECK(body_of(r.match("GET", "/page")) == "get");
}

TEST_CASE("a GET route lists HEAD among its allowed methods") {
    router r;
    r.get("/page", answer("get"));
    auto m = r.match("POST", "/page");
    CHECK(m.status == 405);
    CHECK(m.allowed == std::vector<method>{method::get, method::head});
}

TEST_CASE("HEAD does not fall back to other methods") {
    router r;
    r.post("/form", answer("post"));
    auto m = r.match("HEAD", "/form");
    CHECK(m.status == 405);
    CHECK(m.allowed == std::vector<method>{method::post});
}

TEST_CASE("an unknown method never matches: 405 on a known path, 404 elsewhere") {
    router r;
    r.get("/a", answer("a"));
    auto m = r.match("BREW", "/a");
    CHECK(m.status == 405);
    CHECK(m.allowed == std::vector<method>{method::get, method::head});
    CHECK(r.match("get", "/a").status == 405);
    CHECK(r.match("", "/a").status == 405);
    CHECK(r.match("BREW", "/b").status == 404);
}

TEST_CASE("every method can be routed") {
    router r;
    for (auto m : {method::get, method::head, method::post, method::put, method::patch,
                   method::delete_, method::options, method::connect, method::trace})
        r.add(m, "/all", answer(std::string(httpy::to_string(m))));
    for (const char* name :
         {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}) {
        CAPTURE(name);
        CHECK(body_of(r.match(name, "/all")) == name);
    }
}

TEST_CASE("a different parameter name at the same position is a conflict naming both") {
    router r;
    r.get("/a/:x", answer("x"));
    auto message = config_error_of([&] { r.get("/a/:y/b", answer("y")); });
    CHECK(mentions(message, "/a/:y/b"));
    CHECK(mentions(message, "\"/a/:x\""));
    CHECK(mentions(message, ":y"));
}

TEST_CASE("a rejected route leaves the router unchanged") {
    router r;
    r.get("/a/:x", answer("x"));
    CHECK_THROWS_AS(r.get("/a/:y/b", answer("y")), httpy::config_error);
    CHECK(r.match("GET", "/a/1/b").status == 404);
    CHECK(r.match("GET", "/a/1").params == httpy::fields{{"x", {"1"}}});
}

TEST_CASE("the same parameter name at the same position is shared") {
    router r;
    r.get("/a/:x", answer("x"));
    r.get("/a/:x/b", answer("x b"));
    auto m = r.match("GET", "/a/1/b");
    CHECK(body_of(m) == "x b");
    CHECK(m.params == httpy::fields{{"x", {"1"}}});
}

TEST_CASE("two catch-alls with different names at one position are a conflict") {
    router r;
    r.get("/files/*path", answer("path"));
    auto message = config_error_of([&] { r.post("/files/*rest", answer("rest")); });
    CHECK(mentions(message, "/files/*rest"));
    CHECK(mentions(message, "\"/files/*path\""));
}

TEST_CASE("a catch-all and a parameter at the same position coexist") {
    router r;
    r.get("/files/*path", answer("path"));
    CHECK_NOTHROW(r.get("/files/:name", answer("name")));
    CHECK(body_of(r.match("GET", "/files/a")) == "name");
    CHECK(body_of(r.match("GET", "/files/a/b")) == "path");
}

TEST_CASE("the same method twice on one pattern is a conflict; other methods are fine") {
    router r;
    r.get("/a/:x", answer("first"));
    auto message = config_error_of([&] { r.get("/a/:x", answer("second")); });
    CHECK(mentions(message, "/a/:x"));
    CHECK(mentions(message, "GET"));
    CHECK(body_of(r.match("GET", "/a/1")) == "first");
    CHECK_NOTHROW(r.post("/a/:x", answer("post")));
    CHECK_NOTHROW(r.add(method::head, "/a/:x", answer("head")));
}

TEST_CASE("a malformed pattern is refused with a message naming it") {
    const char* bad[] = {
        "",        // empty
        "a/b",     // no leading '/'
        "//",      // empty segment
        "/a//b",   // empty segment in the middle
        "/a/:",    // parameter without a name
        "/a/*",    // catch-all without a name
        "/a/*x/b", // catch-all not last
        "/a/*x/",  // catch-all followed by a trailing slash
        "/a:b",    // wildcard not a whole segment
        "/a/b*c",  // catch-all not a whole segment
        "/a/:b:c", // two wildcards in one segment
        "/a/:b*c", // two wildcards in one segment
    };
    for (const char* pattern : bad) {
        CAPTURE(pattern);
        auto message = config_error_of([&] { httpy::check_pattern(pattern); });
        CHECK(mentions(message, "route \"" + std::string(pattern) + "\""));
        router r;
        CHECK_THROWS_AS(r.get(pattern, answer("bad")), httpy::config_error);
    }
}

TEST_CASE("well-formed patterns pass the check") {
    for (const char* pattern :
         {"/", "/a", "/a/", "/a/:b", "/a/:b/", "/:a/:b/*c", "/*all", "/a.b/c-d_e~f", "/v1/:id/x"}) {
        CAPTURE(pattern);
        CHECK_NOTHROW(httpy::check_pattern(pattern));
    }
}

TEST_CASE("native and python handlers sit side by side") {
    router r;
    r.get("/native", answer("native"));
    r.add(method::get, "/python", fake_app());
    CHECK(body_of(r.match("GET", "/native")) == "native");
    auto m = r.match("GET", "/python");
    REQUIRE(m.status == 200);
    const auto* python = std::get_if<httpy::async_handler>(m.handler);
    REQUIRE(python != nullptr);
    CHECK(async_body_of(m) == "python");
    CHECK(std::get_if<httpy::native_handler>(m.handler) == nullptr);
}

TEST_CASE("a route table registers every route and method with the python handler") {
    auto table = httpy::route_table::parse({{"/", {"GET"}}, {"/hello/:target", {"GET", "POST"}}});
    router r;
    r.add(table, fake_app("the app"));
    for (auto [name, path] : {std::pair{"GET", "/"}, std::pair{"POST", "/hello/bob"},
                              std::pair{"HEAD", "/hello/bob"}}) {
        CAPTURE(name);
        auto m = r.match(name, path);
        REQUIRE(m.status == 200);
        const auto* python = std::get_if<httpy::async_handler>(m.handler);
        REQUIRE(python != nullptr);
        CHECK(async_body_of(m) == "the app");
    }
    CHECK(r.match("GET", "/hello/bob").params == httpy::fields{{"target", {"bob"}}});
    CHECK(r.match("PUT", "/").status == 405);
}

TEST_CASE("a route table clashing with a native route is refused") {
    router r;
    r.get("/", answer("native"));
    auto table = httpy::route_table::parse({{"/", {"GET"}}});
    CHECK_THROWS_AS(r.add(table, fake_app()), httpy::config_error);
}

TEST_CASE("a moved router keeps its routes") {
    router r;
    r.get("/a/:x", answer("a"));
    router moved = std::move(r);
    CHECK(body_of(moved.match("GET", "/a/1")) == "a");
    router assigned;
    assigned = std::move(moved);
    CHECK(body_of(assigned.match("GET", "/a/1")) == "a");
}

TEST_CASE("a fallback answers every request no route matches, with no params") {
    httpy::router r;
    r.get("/users/:id", [](const httpy::request&) { return httpy::response{}; });
    r.fallback(fake_app("fallback"));
    auto missing = r.match("GET", "/nowhere");
    CHECK(missing.status == 200);
    REQUIRE(missing.handler != nullptr);
    CHECK(async_body_of(missing) == "fallback");
    CHECK(missing.params.empty());
    auto wrong_method = r.match("DELETE", "/users/7");
    CHECK(wrong_method.status == 200);
    CHECK(std::holds_alternative<httpy::async_handler>(*wrong_method.handler));
    auto routed = r.match("GET", "/users/7");
    CHECK(std::holds_alternative<httpy::native_handler>(*routed.handler));
    CHECK(routed.params.find("id")->front() == "7");
}

TEST_CASE("a match names the pattern that matched, never the raw path") {
    router r;
    r.get("/users/:id", answer("user"));
    r.post("/users/:id", answer("post user"));
    r.get("/files/*rest", answer("file"));
    r.get("/", answer("root"));
    CHECK(r.match("GET", "/users/42").route == "/users/:id");
    CHECK(r.match("POST", "/users/7").route == "/users/:id");
    CHECK(r.match("HEAD", "/users/7").route == "/users/:id");
    CHECK(r.match("GET", "/files/a/b/c").route == "/files/*rest");
    CHECK(r.match("GET", "/").route == "/");
    CHECK(r.match("GET", "/nowhere").route.empty());
    CHECK(r.match("DELETE", "/users/1").route.empty()); // 405
}

TEST_CASE("the fallback handler's route is \"*\"") {
    router r;
    r.get("/known", answer("known"));
    r.fallback(answer("fallback"));
    CHECK(r.match("GET", "/known").route == "/known");
    CHECK(r.match("GET", "/anything/else").route == "*");
}
