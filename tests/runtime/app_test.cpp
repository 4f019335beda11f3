#include "httpy/app.hpp"
#include "httpy/config_error.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

const std::string handlers = HTTPY_TEST_DATA "/handlers.py";

httpy::app with_init(std::string init) {
    return httpy::app({.handler = {handlers, "echo"}, .init = httpy::python_function{handlers, init}});
}

std::string config_error_of(httpy::app_options options) {
    try {
        httpy::app a(std::move(options));
    } catch (const httpy::config_error& e) {
        return e.what();
    }
    return "no error";
}

} // namespace

TEST_CASE("a function spec names a file or a module, with go_request by default") {
    using httpy::python_function;
    CHECK(python_function::parse("examples/worker.py", "go_request") ==
          python_function{"examples/worker.py", "go_request"});
    CHECK(python_function::parse("worker:handle", "go_request") ==
          python_function{"worker", "handle"});
    CHECK(python_function::parse("./a:b/worker.py:f", "go_request") ==
          python_function{"./a:b/worker.py", "f"});
    CHECK_THROWS_AS(python_function::parse(":f", "go_request"), httpy::config_error);
    CHECK_THROWS_AS(python_function::parse("worker:", "go_request"), httpy::config_error);
}

TEST_CASE("the init function's routes come back raw and typed") {
    auto a = with_init("init_routes");
    CHECK(a.has_init());
    CHECK(a.raw().at("/hello/:target") == std::vector<std::string>{"GET", "POST"});
    REQUIRE(a.routes().routes().size() == 2);
    CHECK(a.routes().routes()[1].pattern == "/hello/:target");
}

TEST_CASE("init routes may be written method to patterns") {
    auto a = with_init("init_inverted");
    REQUIRE(a.routes().routes().size() == 3);
    CHECK(a.raw().at("GET") == std::vector<std::string>{"/", "/ping"});
}

TEST_CASE("a bad init result stops start-up naming the entry") {
    CHECK(config_error_of({.handler = {handlers, "echo"},
                           .init = httpy::python_function{handlers, "init_bad_value"}})
              .find("[\"/\"]") != std::string::npos);
    CHECK(config_error_of({.handler = {handlers, "echo"},
                           .init = httpy::python_function{handlers, "init_bad_method"}})
              .find("FETCH") != std::string::npos);
    CHECK(config_error_of({.handler = {handlers, "echo"},
                           .init = httpy::python_function{handlers, "init_raises"}})
              .find("init failed on purpose") != std::string::npos);
}

TEST_CASE("a missing file, module or function stops start-up naming it") {
    CHECK(config_error_of({.handler = {"/nonexistent/handler.py", "go_request"}})
              .find("/nonexistent/handler.py") != std::string::npos);
    CHECK(config_error_of({.handler = {"no_such_module_anywhere", "go_request"}})
              .find("no_such_module_anywhere") != std::string::npos);
    CHECK(config_error_of({.handler = {handlers, "no_such_function"}})
              .find("no_such_function") != std::string::npos);
    CHECK(config_error_of({.handler = {handlers, "calls"}}).find("not callable") !=
          std::string::npos);
    CHECK(config_error_of({.handler = {handlers, "echo"},
                           .init = httpy::python_function{handlers, "no_init_here"}})
              .find("no_init_here") != std::string::npos);
}

TEST_CASE("a default init function that is missing is skipped") {
    httpy::app a({.handler = {handlers, "echo"},
                  .init = httpy::python_function{handlers, "go_init"},
                  .init_required = false});
    CHECK_FALSE(a.has_init());
    CHECK(a.routes().empty());
}

TEST_CASE("the blocking request call returns status, body and headers") {
    httpy::app a({.handler = {handlers, "echo"}});
    auto r = a.request("POST", "/p", "payload", {}, {{"q", {"1"}}}, {{"X-A", {"b"}}});
    CHECK_FALSE(r.error);
    CHECK(r.resp.status == 200);
    CHECK(r.resp.body == "payload");
    CHECK(r.resp.headers.find("X-Method")->front() == "POST");
}

TEST_CASE("the example worker answers with a request count") {
    httpy::app a({.handler = {HTTPY_EXAMPLES "/worker.py", "go_request"},
                  .init = httpy::python_function{HTTPY_EXAMPLES "/worker.py", "go_init"}});
    CHECK(a.routes().routes().size() == 3);
    CHECK(a.request("GET", "/ping", "").resp.body == "request #1");
    auto r = a.request("GET", "/ping", "");
    CHECK(r.resp.body == "request #2");
    CHECK(r.resp.headers.find("X-Test")->front() == "1");
}
