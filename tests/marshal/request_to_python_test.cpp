#include <doctest/doctest.h>

#include <pybind11/embed.h>

#include "marshal/request_to_python.hpp"

#include "core/spool_file.hpp"
#include "marshal/response_from_python.hpp"

#include <string>

namespace py = pybind11;
using namespace std::string_literals;
using httpy::marshal::body_type;

namespace {

// Handlers as users write them; `seen` keeps the last arguments for the assertions.
constexpr const char* handlers = R"py(
def capture(*args):
    global seen
    seen = args
    return (200, "", None)

def echo(method, path, params, query, headers, body):
    out = dict(headers)
    for name, values in query.items():
        out["Q-" + name] = values
    for name, values in params.items():
        out["P-" + name] = values
    out["X-Method"] = method
    out["X-Path"] = path
    return (200, body, out)

def fail(*args):
    raise ValueError("handler failed")
)py";

py::dict python_namespace() {
    py::dict ns;
    py::exec(handlers, ns);
    return ns;
}

bool holds(const char* expression, const py::dict& ns) {
    return py::eval(expression, ns).cast<bool>();
}

httpy::request sample_request() {
    httpy::request req;
    req.method = "POST";
    req.path = "/hello/bob";
    req.params = {{"target", {"bob"}}};
    req.query = {{"q", {"1", "2"}}, {"empty", {""}}};
    req.headers = {{"Content-Type", {"text/plain"}}, {"X-Sleep", {"0"}}};
    req.body = "hi";
    return req;
}

// Exact reference totals on a debug CPython (HTTPY_PYTHON_DEBUG), allocated blocks otherwise.
long python_allocations() {
    const auto sys = py::module_::import("sys");
    const char* counter = py::hasattr(sys, "gettotalrefcount") ? "gettotalrefcount"
                                                                 : "getallocatedblocks";
    return sys.attr(counter)().cast<long>();
}

} // namespace

TEST_CASE("the handler receives method, path, params, query, headers and body positionally") {
    py::gil_scoped_acquire gil;
    auto ns = python_namespace();
    httpy::marshal::call_handler(ns["capture"], sample_request(), body_type::str);
    CHECK(holds("seen[0] == 'POST' and seen[1] == '/hello/bob'", ns));
    CHECK(holds("seen[2] == {'target': ['bob']}", ns));
    CHECK(holds("seen[3] == {'q': ['1', '2'], 'empty': ['']}", ns));
    CHECK(holds("seen[4] == {'Content-Type': ['text/plain'], 'X-Sleep': ['0']}", ns));
    CHECK(holds("seen[5] == 'hi'", ns));
    CHECK(holds("[type(a) for a in seen] == [str, str, dict, dict, dict, str]", ns));
    CHECK(holds("all(type(v) is list for d in seen[2:5] for v in d.values())", ns));
}

TEST_CASE("call_handler returns exactly the object the handler returned") {
    py::gil_scoped_acquire gil;
    py::dict ns;
    py::exec("RESULT = (201, 'x', None)\ndef h(*args):\n    return RESULT\n", ns);
    const auto result = httpy::marshal::call_handler(ns["h"], httpy::request{}, body_type::str);
    CHECK(result.is(ns["RESULT"]));
}

TEST_CASE("an empty request gives empty strings and empty dicts") {
    py::gil_scoped_acquire gil;
    auto ns = python_namespace();
    httpy::marshal::call_handler(ns["capture"], httpy::request{}, body_type::str);
    CHECK(holds("seen == ('', '', {}, {}, {}, '')", ns));
}

TEST_CASE("repeated keys reach the handler with every value, names and values in order") {
    py::gil_scoped_acquire gil;
    auto ns = python_namespace();
    httpy::request req;
    req.headers.add("X-B", "1");
    req.headers.add("X-A", "2");
    req.headers.add("X-B", "3");
    req.headers.add("X-B", "");
    req.query.add("z", "1");
    req.query.add("a", "2");
    req.query.add("z", "3");
    httpy::marshal::call_handler(ns["capture"], req, body_type::str);
    CHECK(holds("list(seen[4].items()) == [('X-B', ['1', '3', '']), ('X-A', ['2'])]", ns));
    CHECK(holds("list(seen[3].items()) == [('z', ['1', '3']), ('a', ['2'])]", ns));
}

TEST_CASE("an echo handler round-trips headers, query, params, method and path") {
    py::gil_scoped_acquire gil;
    auto ns = python_namespace();
    auto req = sample_request();
    req.headers.add("X-Multi", "a");
    req.headers.add("X-Multi", "b");
    const auto result = httpy::marshal::call_handler(ns["echo"], req, body_type::str);
    const auto res = httpy::marshal::response_from_python(result);
    CHECK(res.status == 200);
    CHECK(res.body == "hi");
    const httpy::fields expected{{"Content-Type", {"text/plain"}}, {"X-Sleep", {"0"}},
                                 {"X-Multi", {"a", "b"}},         {"Q-q", {"1", "2"}},
                                 {"Q-empty", {""}},               {"P-target", {"bob"}},
                                 {"X-Method", {"POST"}},          {"X-Path", {"/hello/bob"}}};
    CHECK(res.headers == expected);
}

TEST_CASE("unicode in every part of the request round-trips as UTF-8") {
    py::gil_scoped_acquire gil;
    auto ns = python_namespace();
    httpy::request req;
    req.method = "GET";
    req.path = "/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac";
    req.params = {{"name", {"\xf0\x9f\x90\x8d"}}};
    req.query = {{"q", {"\xc3\xbc"}}};
    req.headers = {{"X-Name", {"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"}}};
    req.body = "\xf0\x9f\x90\x8d snake";
    const auto result = httpy::marshal::call_handler(ns["echo"], req, body_type::str);
    httpy::marshal::call_handler(ns["capture"], req, body_type::str);
    CHECK(holds("seen[1] == '/café/日本' and seen[2] == {'name': ['🐍']}", ns));
    CHECK(holds("seen[3] == {'q': ['ü']} and seen[4] == {'X-Name': ['café 日本']}", ns));
    CHECK(holds("seen[5] == '🐍 snake'", ns));
    const auto res = httpy::marshal::response_from_python(result);
    CHECK(res.body == req.body);
    CHECK(*res.headers.find("X-Name") == std::vector{"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"s});
    CHECK(*res.headers.find("X-Path") == std::vector{req.path});
    CHECK(*res.headers.find("Q-q") == std::vector{"\xc3\xbc"s});
}

TEST_CASE("binary and NUL bytes in the body come back exactly through a str body") {
    py::gil_scoped_acquire gil;
    auto ns = python_namespace();
    httpy::request req;
    for (int c = 0; c < 256; ++c)
        req.body += static_cast<char>(c);
    req.body += "\0\0end\xff"s;
    const auto result = httpy::marshal::call_handler(ns["echo"], req, body_type::str);
    const auto res = httpy::marshal::response_from_python(result);
    CHECK(res.body == req.body);
    httpy::marshal::call_handler(ns["capture"], req, body_type::str);
    CHECK(holds("type(seen[5]) is str and len(seen[5].encode('utf-8', 'surrogateescape')) == 262",
                ns));
}

TEST_CASE("binary and NUL bytes in the body come back exactly through a bytes body") {
    py::gil_scoped_acquire gil;
    auto ns = python_namespace();
    httpy::request req;
    req.body = "\x00\x01\xfe\xff\x00 tail"s;
    httpy::marshal::call_handler(ns["capture"], req, body_type::bytes);
    CHECK(holds("seen[5] == b'\\x00\\x01\\xfe\\xff\\x00 tail'", ns));
    const auto result = httpy::marshal::call_handler(ns["echo"], req, body_type::bytes);
    CHECK(httpy::marshal::response_from_python(result).body == req.body);
}

TEST_CASE("invalid UTF-8 in header values, query and path is kept via surrogateescape") {
    py::gil_scoped_acquire gil;
    auto ns = python_namespace();
    httpy::request req;
    req.path = "/bad\xff";
    req.query = {{"k\xfe", {"v\xc3"}}};
    req.headers = {{"X-Bin", {"\xff\xfe raw \x80"}}};
    httpy::marshal::call_handler(ns["capture"], req, body_type::str);
    CHECK(holds("seen[1] == '/bad\\udcff'", ns));
    CHECK(holds("seen[3] == {'k\\udcfe': ['v\\udcc3']}", ns));
    CHECK(holds("seen[4] == {'X-Bin': ['\\udcff\\udcfe raw \\udc80']}", ns));
    req.query = {{"k", {"v\xc3"}}}; // the echo turns query names into header names
    const auto result = httpy::marshal::call_handler(ns["echo"], req, body_type::str);
    const auto res = httpy::marshal::response_from_python(result);
    CHECK(*res.headers.find("X-Bin") == std::vector{"\xff\xfe raw \x80"s});
    CHECK(*res.headers.find("X-Path") == std::vector{"/bad\xff"s});
    CHECK(*res.headers.find("Q-k") == std::vector{"v\xc3"s});
}

TEST_CASE("to_python builds a dict of lists in the order of the fields") {
    py::gil_scoped_acquire gil;
    httpy::fields f{{"b", {"1", "2"}}};
    f.set("a", {});
    f.add("c", "");
    py::dict ns;
    ns["d"] = httpy::marshal::to_python(f);
    CHECK(holds("list(d.items()) == [('b', ['1', '2']), ('a', []), ('c', [''])]", ns));
}

TEST_CASE("body_to_python gives str or bytes as asked, from memory or from the spool file") {
    py::gil_scoped_acquire gil;
    py::dict ns;
    httpy::request req;
    req.body = "a\xff";
    ns["s"] = httpy::marshal::body_to_python(req, body_type::str);
    ns["b"] = httpy::marshal::body_to_python(req, body_type::bytes);
    httpy::detail::spool_file spool;
    REQUIRE(spool.append("a\xff"));
    httpy::request spooled;
    spooled.body_spool = spool.release();
    ns["spooled_s"] = httpy::marshal::body_to_python(spooled, body_type::str);
    ns["spooled_b"] = httpy::marshal::body_to_python(spooled, body_type::bytes);
    CHECK(holds("s == spooled_s == 'a\\udcff' and b == spooled_b == b'a\\xff'", ns));
}

TEST_CASE("a handler that raises throws error_already_set and leaves no error set") {
    py::gil_scoped_acquire gil;
    auto ns = python_namespace();
    bool matched = false;
    try {
        httpy::marshal::call_handler(ns["fail"], sample_request(), body_type::str);
    } catch (const py::error_already_set& e) {
        matched = e.matches(PyExc_ValueError);
    }
    CHECK(matched);
    CHECK(PyErr_Occurred() == nullptr);
}

TEST_CASE("calling a handler many times leaks no Python objects") {
    py::gil_scoped_acquire gil;
    auto ns = python_namespace();
    const auto req = sample_request();
    auto run = [&] {
        for (int i = 0; i < 2000; ++i) {
            httpy::marshal::call_handler(ns["echo"], req, body_type::str);
            try {
                httpy::marshal::call_handler(ns["fail"], req, body_type::bytes);
            } catch (const py::error_already_set&) {
            }
        }
    };
    run();
    const long before = python_allocations();
    run();
    // A single leaked object per call would show as thousands of blocks.
    CHECK(python_allocations() - before < 200);
}
