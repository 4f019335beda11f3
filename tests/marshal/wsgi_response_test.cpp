#include <doctest/doctest.h>

#include <pybind11/embed.h>

#include "marshal/conversion_error.hpp"
#include "marshal/wsgi_response.hpp"

#include <string>

namespace py = pybind11;

namespace {

httpy::response head_of(const char* status, const char* headers) {
    httpy::response r;
    httpy::marshal::wsgi_head(py::eval(status), py::eval(headers), r);
    return r;
}

std::string refusal(const char* status, const char* headers) {
    try {
        head_of(status, headers);
    } catch (const httpy::marshal::conversion_error& e) {
        return e.what();
    }
    return "accepted";
}

} // namespace

TEST_CASE("start_response's status and headers become the response head") {
    py::gil_scoped_acquire gil;
    const auto r = head_of("'201 Created'", "[('Content-Type', 'text/plain'), ('X-A', '1'), "
                                            "('X-A', '2'), ('X-Latin', 'caf\\xe9')]");
    CHECK(r.status == 201);
    CHECK(*r.headers.find("Content-Type") == httpy::fields::value_list{"text/plain"});
    CHECK(*r.headers.find("X-A") == httpy::fields::value_list{"1", "2"});
    CHECK(*r.headers.find("X-Latin") == httpy::fields::value_list{"caf\xe9"}); // latin-1 byte
    CHECK(head_of("'299 Whatever reason'", "[]").status == 299);
}

TEST_CASE("a bad status or header is refused, naming the problem") {
    py::gil_scoped_acquire gil;
    CHECK(refusal("'99 Too Low'", "[]").find("200..599") != std::string::npos);
    CHECK(refusal("'100 Continue'", "[]").find("200..599") != std::string::npos);
    CHECK(refusal("'600 Too High'", "[]").find("200..599") != std::string::npos);
    CHECK(refusal("'200'", "[]").find("NNN reason") != std::string::npos);
    CHECK(refusal("'OK 200'", "[]").find("NNN reason") != std::string::npos);
    CHECK(refusal("200", "[]").find("of type int") != std::string::npos);
    CHECK(refusal("'200 OK\\r\\nX: y'", "[]").find("NNN reason") != std::string::npos);
    CHECK(refusal("'200 OK'", "[('X-A', 'a\\nb')]").find("CR, LF or NUL") != std::string::npos);
    CHECK(refusal("'200 OK'", "[('X-A', 'a\\x00b')]").find("CR, LF or NUL") != std::string::npos);
    CHECK(refusal("'200 OK'", "[('X A', 'v')]").find("not a valid header name") !=
          std::string::npos);
    CHECK(refusal("'200 OK'", "[('X-A', '\\u2713')]").find("not latin-1") != std::string::npos);
    CHECK(refusal("'200 OK'", "[('X-A', 1)]").find("of type int") != std::string::npos);
    CHECK(refusal("'200 OK'", "[('X-A',)]").find("(name, value) tuple") != std::string::npos);
    CHECK(refusal("'200 OK'", "(('X-A', 'v'),)").find("expected a list") != std::string::npos);
}

TEST_CASE("body chunks are bytes or bytearray, within the limit") {
    py::gil_scoped_acquire gil;
    std::string out;
    std::size_t total = 0;
    httpy::marshal::append_wsgi_chunk(py::eval("b'ab'"), out, total, 5);
    httpy::marshal::append_wsgi_chunk(py::eval("bytearray(b'c\\x00')"), out, total, 5);
    CHECK(out == std::string("abc\0", 4));
    CHECK(total == 4);
    CHECK_THROWS_WITH_AS(httpy::marshal::append_wsgi_chunk(py::eval("'str'"), out, total, 5),
                         doctest::Contains("expected bytes"), httpy::marshal::conversion_error);
    CHECK_THROWS_WITH_AS(httpy::marshal::append_wsgi_chunk(py::eval("b'xy'"), out, total, 5),
                         doctest::Contains("limit of 5"), httpy::marshal::conversion_error);
}
