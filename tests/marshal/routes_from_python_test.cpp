#include <doctest/doctest.h>

#include <pybind11/embed.h>

#include "marshal/conversion_error.hpp"
#include "marshal/routes_from_python.hpp"

#include <string>
#include <vector>

namespace py = pybind11;

namespace {

httpy::raw_routes convert(const char* expression) {
    py::dict ns;
    py::exec("class Routes(dict): pass\n", ns);
    return httpy::marshal::routes_from_python(py::eval(expression, ns));
}

std::string refusal(const char* expression) {
    try {
        convert(expression);
    } catch (const httpy::marshal::conversion_error& e) {
        CHECK(PyErr_Occurred() == nullptr);
        return e.what();
    }
    return "<accepted>";
}

} // namespace

TEST_CASE("a route to methods mapping is taken as given") {
    py::gil_scoped_acquire gil;
    const httpy::raw_routes expected{{"/", {"GET"}}, {"/hello/:target", {"GET", "POST"}}};
    CHECK(convert(R"({"/": ["GET"], "/hello/:target": ["GET", "POST"]})") == expected);
}

TEST_CASE("the inverted method to routes form passes through unchanged") {
    py::gil_scoped_acquire gil;
    const httpy::raw_routes expected{{"GET", {"/", "/ping"}}, {"POST", {"/hello/:target"}}};
    CHECK(convert(R"({"GET": ["/", "/ping"], "POST": ["/hello/:target"]})") == expected);
}

TEST_CASE("tuples, dict subclasses and empty mappings are accepted") {
    py::gil_scoped_acquire gil;
    CHECK(convert(R"({"/": ("GET", "HEAD")})") == httpy::raw_routes{{"/", {"GET", "HEAD"}}});
    CHECK(convert(R"(Routes({"/": ["GET"]}))") == httpy::raw_routes{{"/", {"GET"}}});
    CHECK(convert(R"({})").empty());
    CHECK(convert(R"({"/": []})") == httpy::raw_routes{{"/", {}}});
}

TEST_CASE("non-ASCII patterns arrive as UTF-8 bytes") {
    py::gil_scoped_acquire gil;
    CHECK(convert(R"({"/café": ["GET"]})") == httpy::raw_routes{{"/caf\xc3\xa9", {"GET"}}});
}

TEST_CASE("a result that is not a dict is refused") {
    py::gil_scoped_acquire gil;
    const std::string expected = "; expected dict[str, list[str]]";
    CHECK(refusal(R"([("/", ["GET"])])") == "go_init returned a value of type list" + expected);
    CHECK(refusal(R"(None)") == "go_init returned a value of type NoneType" + expected);
    CHECK(refusal(R"("/")") == "go_init returned a value of type str" + expected);
}

TEST_CASE("a bare str value is refused: init results are strict") {
    py::gil_scoped_acquire gil;
    CHECK(refusal(R"({"/": "GET"})") == R"(go_init returned ["/"] of type str; expected list[str])");
}

TEST_CASE("a value that is not a list of str is refused naming the entry") {
    py::gil_scoped_acquire gil;
    CHECK(refusal(R"({"/": ["GET", 1]})") ==
          R"(go_init returned ["/"][1] of type int; expected str)");
    CHECK(refusal(R"({"/": None})") ==
          R"(go_init returned ["/"] of type NoneType; expected list[str])");
    CHECK(refusal(R"({"/": {"GET"}})") == R"(go_init returned ["/"] of type set; expected list[str])");
    CHECK(refusal(R"({"/a": ["GET"], "/b": [["GET"]]})") ==
          R"(go_init returned ["/b"][0] of type list; expected str)");
    CHECK(refusal(R"({"/": [b"GET"]})") ==
          R"(go_init returned ["/"][0] of type bytes; expected str)");
}

TEST_CASE("a key that is not a str is refused naming its repr and type") {
    py::gil_scoped_acquire gil;
    CHECK(refusal(R"({1: ["GET"]})") == "go_init returned a key 1 of type int; expected str");
    CHECK(refusal(R"({b"/": ["GET"]})") == "go_init returned a key b'/' of type bytes; expected str");
}

TEST_CASE("a lone surrogate in a pattern or method is refused") {
    py::gil_scoped_acquire gil;
    CHECK(refusal(R"({"/\ud800": ["GET"]})") ==
          R"(go_init returned a key "/\ud800" that cannot be encoded as UTF-8)");
    CHECK(refusal(R"({"/": ["G\ud800"]})") ==
          R"(go_init returned ["/"][0] "G\ud800" that cannot be encoded as UTF-8)");
}

TEST_CASE("the message names the function it was given") {
    py::gil_scoped_acquire gil;
    CHECK_THROWS_WITH_AS(httpy::marshal::routes_from_python(py::none(), "setup"),
                         "setup returned a value of type NoneType; expected dict[str, list[str]]",
                         httpy::marshal::conversion_error);
}
