#include <doctest/doctest.h>

#include <pybind11/embed.h>

#include "marshal/conversion_error.hpp"
#include "marshal/response_from_python.hpp"

#include <string>
#include <vector>

namespace py = pybind11;
using namespace std::string_literals;

namespace {

// The odd objects handlers return, written as their authors would.
constexpr const char* prelude = R"py(
import collections, http

class BadLen:
    def __getitem__(self, i): return 200
    def __len__(self): raise RuntimeError("boom")

class OnlyLen:
    def __len__(self): return 3

class BadItem:
    def __len__(self): return 3
    def __getitem__(self, i):
        if i == 1: raise KeyError("nope")
        return 200

class Seq:
    def __init__(self, *items): self.items = items
    def __len__(self): return len(self.items)
    def __getitem__(self, i): return self.items[i]

class Headers(dict):
    def items(self): raise RuntimeError("never called")

class Status(int):
    def __repr__(self): raise RuntimeError("never called")

def gen():
    yield 200
    yield ""
    yield {}

def released():
    m = memoryview(b"x")
    m.release()
    return m

Pair = collections.namedtuple("Pair", "status body headers")
)py";

py::dict python_namespace() {
    py::dict ns;
    py::exec(prelude, ns);
    return ns;
}

httpy::response convert(const std::string& expression) {
    const auto ns = python_namespace();
    return httpy::marshal::response_from_python(py::eval(expression, ns));
}

// The message of the conversion_error, checking that no Python error is left behind.
std::string refusal(const std::string& expression) {
    try {
        convert(expression);
    } catch (const httpy::marshal::conversion_error& e) {
        CHECK(PyErr_Occurred() == nullptr);
        return e.what();
    }
    return "<accepted>";
}

struct refused_case {
    std::string expression;
    std::string message;
};

void check_refusals(const std::vector<refused_case>& cases) {
    for (const auto& [expression, message] : cases) {
        CAPTURE(expression);
        CHECK(refusal(expression) == "go_request returned " + message);
    }
}

// Exact reference totals on a debug CPython (HTTPY_PYTHON_DEBUG), allocated blocks otherwise.
long python_allocations() {
    const auto sys = py::module_::import("sys");
    const char* counter = py::hasattr(sys, "gettotalrefcount") ? "gettotalrefcount"
                                                                 : "getallocatedblocks";
    return sys.attr(counter)().cast<long>();
}

constexpr const char* shape = "; expected a 3-item sequence (status, body, headers)";
constexpr const char* body_types = "; expected str, bytes, bytearray or memoryview";

} // namespace

TEST_CASE("a result that is not a 3-item sequence is refused, naming its type and length") {
    py::gil_scoped_acquire gil;
    check_refusals({
        {R"((200, ""))", "a tuple of 2 items"s + shape},
        {R"((200, "", {}, 1))", "a tuple of 4 items"s + shape},
        {R"([200])", "a list of 1 item"s + shape},
        {R"(())", "a tuple of 0 items"s + shape},
        {R"(None)", "a value of type NoneType"s + shape},
        {R"("abc")", "a value of type str"s + shape},
        {R"(b"abc")", "a value of type bytes"s + shape},
        {R"(bytearray(b"abc"))", "a value of type bytearray"s + shape},
        {R"({"status": 200, "body": "", "headers": {}})", "a value of type dict"s + shape},
        {R"({200, "", None})", "a value of type set"s + shape},
        {R"(200)", "a value of type int"s + shape},
        {R"(gen())", "a value of type generator"s + shape},
        {R"(OnlyLen())", "a value of type OnlyLen"s + shape},
        {R"(Seq(200, ""))", "a Seq of 2 items"s + shape},
    });
}

TEST_CASE("a sequence whose __len__ or __getitem__ raises is refused with the exception's text") {
    py::gil_scoped_acquire gil;
    check_refusals({
        {R"(BadLen())", "a BadLen whose len() raised RuntimeError: boom"},
        {R"(BadItem())", "a BadItem whose item 1 raised KeyError: 'nope'"},
    });
}

TEST_CASE("a status that is not an int in 200..599 is refused") {
    py::gil_scoped_acquire gil;
    check_refusals({
        {R"(("200", "", {}))", "status of type str; expected int"},
        {R"((200.0, "", {}))", "status of type float; expected int"},
        {R"((True, "", {}))", "status of type bool; expected int"},
        {R"((None, "", {}))", "status of type NoneType; expected int"},
        {R"((600, "", {}))", "status 600; expected an int in 200..599"},
        {R"((99, "", {}))", "status 99; expected an int in 200..599"},
        {R"((-1, "", {}))", "status -1; expected an int in 200..599"},
        {R"((2**100, "", {}))", "status 1267650600228229401496703205376; expected an int in 200..599"},
        {R"((-2**100, "", {}))", "status -1267650600228229401496703205376; expected an int in 200..599"},
        {R"((10**5000, "", {}))", "status out of range; expected an int in 200..599"},
        {R"((Status(700), "", {}))", "status 700; expected an int in 200..599"},
    });
}

TEST_CASE("a body that is not str or a bytes-like object is refused") {
    py::gil_scoped_acquire gil;
    check_refusals({
        {R"((200, 1, {}))", "body of type int"s + body_types},
        {R"((200, ["a"], {}))", "body of type list"s + body_types},
        {R"((200, None, {}))", "body of type NoneType"s + body_types},
        {R"((200, {"a": 1}, {}))", "body of type dict"s + body_types},
        {R"((200, 1.5, {}))", "body of type float"s + body_types},
    });
}

TEST_CASE("a body str holding a lone surrogate not from surrogateescape is refused") {
    py::gil_scoped_acquire gil;
    check_refusals({
        {R"((200, "ok\ud800", {}))",
         R"(body of type str that could not be converted to bytes (UnicodeEncodeError: 'utf-8' codec can't encode character '\ud800' in position 2: surrogates not allowed))"},
        {R"((200, released(), {}))",
         "body of type memoryview that could not be converted to bytes (ValueError: operation "
         "forbidden on released memoryview object)"},
    });
}

TEST_CASE("headers that are not None or a dict are refused") {
    py::gil_scoped_acquire gil;
    check_refusals({
        {R"((200, "", [("X-A", "1")]))", "headers of type list; expected dict or None"},
        {R"((200, "", "X-A: 1"))", "headers of type str; expected dict or None"},
        {R"((200, "", 1))", "headers of type int; expected dict or None"},
        {R"((200, "", {("X-A", "1")}))", "headers of type set; expected dict or None"},
    });
}

TEST_CASE("a header value that is not str or a list of str is refused with its index") {
    py::gil_scoped_acquire gil;
    check_refusals({
        {R"((200, "", {"X-Test": [1]}))", R"(headers["X-Test"][0] of type int; expected str)"},
        {R"((200, "", {"X-A": ["1", None]}))", R"(headers["X-A"][1] of type NoneType; expected str)"},
        {R"((200, "", {"X-A": [["1"]]}))", R"(headers["X-A"][0] of type list; expected str)"},
        {R"((200, "", {"X-A": [b"1"]}))", R"(headers["X-A"][0] of type bytes; expected str)"},
        {R"((200, "", {"X-A": ("1", 2)}))", R"(headers["X-A"][1] of type int; expected str)"},
        {R"((200, "", {"X-A": None}))",
         R"(headers["X-A"] of type NoneType; expected list[str] or str)"},
        {R"((200, "", {"X-A": 1}))", R"(headers["X-A"] of type int; expected list[str] or str)"},
        {R"((200, "", {"X-A": b"1"}))", R"(headers["X-A"] of type bytes; expected list[str] or str)"},
        {R"((200, "", {"X-A": {"1"}}))", R"(headers["X-A"] of type set; expected list[str] or str)"},
    });
}

TEST_CASE("a header name that is not a str token is refused") {
    py::gil_scoped_acquire gil;
    check_refusals({
        {R"((200, "", {1: "x"}))", "a header name 1 of type int; expected str"},
        {R"((200, "", {b"X-A": "x"}))", "a header name b'X-A' of type bytes; expected str"},
        {R"((200, "", {None: "x"}))", "a header name None of type NoneType; expected str"},
        {R"((200, "", {"Bad Name": "x"}))", R"(headers["Bad Name"]: not a valid header name)"},
        {R"((200, "", {"X-A:": "x"}))", R"(headers["X-A:"]: not a valid header name)"},
        {R"((200, "", {"": "x"}))", R"(headers[""]: not a valid header name)"},
        {R"((200, "", {"X-A\r": "x"}))", R"(headers["X-A\r"]: not a valid header name)"},
        {R"((200, "", {"X-A\nSet-Cookie": "x"}))",
         R"(headers["X-A\nSet-Cookie"]: not a valid header name)"},
        {R"((200, "", {"X\0": "x"}))", R"(headers["X\x00"]: not a valid header name)"},
        {R"((200, "", {"X-\"q\"": "x"}))", R"(headers["X-\"q\""]: not a valid header name)"},
        {R"((200, "", {"X-é": "x"}))", R"(headers["X-é"]: not a valid header name)"},
        {R"((200, "", {"X-\udc80": "x"}))", R"(headers["X-\udc80"]: not a valid header name)"},
    });
}

TEST_CASE("a header value containing CR, LF or NUL is refused: no header injection") {
    py::gil_scoped_acquire gil;
    check_refusals({
        {R"((200, "", {"X-A": ["1\r"]}))", R"(headers["X-A"][0] containing CR, LF or NUL)"},
        {R"((200, "", {"X-A": ["ok", "1\nSet-Cookie: a=b"]}))",
         R"(headers["X-A"][1] containing CR, LF or NUL)"},
        {R"((200, "", {"X-A": ["a\0b"]}))", R"(headers["X-A"][0] containing CR, LF or NUL)"},
        {R"((200, "", {"X-A": "1\r\n\r\n<html>"}))", R"(headers["X-A"] containing CR, LF or NUL)"},
        {R"((200, "", {"X-A": ["\ud800"]}))",
         R"(headers["X-A"][0] that could not be encoded as UTF-8 (UnicodeEncodeError: 'utf-8' codec can't encode character '\ud800' in position 0: surrogates not allowed))"},
    });
}

TEST_CASE("the message names the function it was given") {
    py::gil_scoped_acquire gil;
    const auto ns = python_namespace();
    CHECK_THROWS_WITH_AS(httpy::marshal::response_from_python(py::eval("(200, 1, None)", ns),
                                                              "app.handle"),
                         "app.handle returned body of type int; expected str, bytes, bytearray "
                         "or memoryview",
                         httpy::marshal::conversion_error);
}

TEST_CASE("a body over the response limit is refused with its size, and one at it passes") {
    py::gil_scoped_acquire gil;
    const auto ns = python_namespace();
    auto limited = [&](const char* expression) {
        return httpy::marshal::response_from_python(py::eval(expression, ns), "go_request", 4);
    };
    CHECK(limited("(200, b'abcd', None)").body == "abcd");
    CHECK(limited("(200, '\\u00e9\\u00e9', None)").body == "\xc3\xa9\xc3\xa9");
    const std::pair<const char*, const char*> refused[] = {
        {"(200, b'abcde', None)", "bytes of 5 bytes"},
        {"(200, bytearray(b'abcde'), None)", "bytearray of 5 bytes"},
        {"(200, memoryview(b'abcde'), None)", "memoryview of 5 bytes"},
        {"(200, 'abcde', None)", "str of 5 bytes"},
        // Three characters, six bytes once encoded: refused after encoding.
        {"(200, '\\u00e9\\u00e9\\u00e9', None)", "str of 6 bytes"},
    };
    for (const auto& [expression, what] : refused) {
        CAPTURE(expression);
        CHECK_THROWS_WITH_AS(limited(expression),
                             (std::string("go_request returned a body of type ") + what +
                              "; the response limit is 4 bytes")
                                 .c_str(),
                             httpy::marshal::conversion_error);
        CHECK_FALSE(PyErr_Occurred());
    }
}

TEST_CASE("a monster header name or exception text is cut short in the message") {
    py::gil_scoped_acquire gil;
    const auto message = refusal(R"((200, "", {"a b" * 10000: "x"}))");
    CHECK(message.size() < 300);
    CHECK(message.find("...\"]: not a valid header name") != std::string::npos);
}

TEST_CASE("a tuple of status, str body and dict of lists is accepted as given") {
    py::gil_scoped_acquire gil;
    const auto res = convert(R"((201, "héllo", {"X-B": ["1", "2"], "x-lower": ["3"]}))");
    CHECK(res.status == 201);
    CHECK(res.body == "h\xc3\xa9llo");
    CHECK(res.headers == httpy::fields{{"X-B", {"1", "2"}}, {"x-lower", {"3"}}});
}

TEST_CASE("a list, a namedtuple or any custom sequence works as the result") {
    py::gil_scoped_acquire gil;
    CHECK(convert(R"([404, "nope", None])").status == 404);
    CHECK(convert(R"(Pair(202, "p", None))").body == "p");
    CHECK(convert(R"(Seq(203, "s", {"X-A": "1"}))").headers == httpy::fields{{"X-A", {"1"}}});
}

TEST_CASE("None or an empty dict means no headers, and an empty list adds no header line") {
    py::gil_scoped_acquire gil;
    CHECK(convert(R"((200, "", None))").headers.empty());
    CHECK(convert(R"((200, "", {}))").headers.empty());
    CHECK(convert(R"((200, "", {"X-A": [], "X-B": ()}))").headers.empty());
}

TEST_CASE("a bare str header value counts as a one-item list and a tuple as a list") {
    py::gil_scoped_acquire gil;
    const auto res = convert(R"((200, "", {"X-A": "1", "X-B": ("2", "3"), "X-C": ""}))");
    CHECK(res.headers == httpy::fields{{"X-A", {"1"}}, {"X-B", {"2", "3"}}, {"X-C", {""}}});
}

TEST_CASE("a dict subclass is read as the dict it stores") {
    py::gil_scoped_acquire gil;
    const auto res = convert(R"((200, "", Headers({"X-A": "1"})))");
    CHECK(res.headers == httpy::fields{{"X-A", {"1"}}});
}

TEST_CASE("an int subclass status such as HTTPStatus is accepted") {
    py::gil_scoped_acquire gil;
    CHECK(convert(R"((http.HTTPStatus.NOT_FOUND, "", None))").status == 404);
    CHECK(convert(R"((Status(201), "", None))").status == 201);
    CHECK(convert(R"((200, "", None))").status == 200);
    CHECK(convert(R"((599, "", None))").status == 599);
}

TEST_CASE("a 1xx status such as 100 or 101 is refused: it is not a final response") {
    py::gil_scoped_acquire gil;
    constexpr const char* why =
        "; expected an int in 200..599 (a 1xx status is not a final response)";
    check_refusals({
        {R"((100, "", {}))", "status 100"s + why},
        {R"((101, "", {}))", "status 101"s + why},
        {R"((http.HTTPStatus.SWITCHING_PROTOCOLS, "", {}))", "status 101"s + why},
        {R"((199, "", {}))", "status 199"s + why},
    });
}

TEST_CASE("bytes, bytearray and memoryview bodies are sent byte for byte") {
    py::gil_scoped_acquire gil;
    CHECK(convert(R"((200, b"\x00\xff", None))").body == "\0\xff"s);
    CHECK(convert(R"((200, bytearray(b"a\x00b"), None))").body == "a\0b"s);
    CHECK(convert(R"((200, memoryview(b"\x00mv"), None))").body == "\0mv"s);
    CHECK(convert(R"((200, memoryview(b"abcdef")[::2], None))").body == "ace");
    CHECK(convert(R"((200, b"", None))").body.empty());
}

TEST_CASE("a str body with surrogateescape characters gives back the original bytes") {
    py::gil_scoped_acquire gil;
    CHECK(convert(R"((200, b"\xff\x00\xc3(".decode("utf-8", "surrogateescape"), None))").body ==
          "\xff\0\xc3("s);
    CHECK(convert(R"((200, "\0", {"X-A": "\udcff"}))").headers == httpy::fields{{"X-A", {"\xff"}}});
}

TEST_CASE("refusing results many times leaks no Python objects") {
    py::gil_scoped_acquire gil;
    const auto ns = python_namespace();
    const std::vector<py::object> results{
        py::eval(R"((200, "", {"X-A": [1]}))", ns), py::eval(R"(BadLen())", ns),
        py::eval(R"(BadItem())", ns),                py::eval(R"((2**100, "", None))", ns),
        py::eval(R"((200, "\ud800", None))", ns),     py::eval(R"((200, "", {b"x": "1"}))", ns),
        py::eval(R"((200, "ok", {"X-A": "1"}))", ns),
    };
    auto run = [&] {
        for (int i = 0; i < 1000; ++i)
            for (const auto& result : results) {
                try {
                    httpy::marshal::response_from_python(result);
                } catch (const httpy::marshal::conversion_error&) {
                }
            }
    };
    run();
    const long before = python_allocations();
    run();
    CHECK(python_allocations() - before < 200);
    // One reference held by `results`, one by the call to getrefcount.
    CHECK(py::module_::import("sys").attr("getrefcount")(results[0]).cast<long>() == 2);
}
