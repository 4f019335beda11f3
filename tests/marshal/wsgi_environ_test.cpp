#include <doctest/doctest.h>

#include <pybind11/embed.h>

#include "marshal/wsgi_environ.hpp"

#include <string>

namespace py = pybind11;
using namespace std::string_literals;

namespace {

httpy::request sample_request() {
    httpy::request req;
    req.method = "POST";
    req.path = "/app/caf\xc3\xa9";
    req.query_string = "a=1&b=%20c";
    req.headers = {{"Host", {"example.com"}},
                   {"Content-Type", {"text/plain"}},
                   {"Content-Length", {"2"}},
                   {"X-Many", {"1", "2"}},
                   {"Cookie", {"a=1", "b=2"}},
                   {"X-Latin", {"caf\xe9"}},
                   {"X_Under", {"dropped"}}};
    req.body = "hi";
    req.version = 10;
    req.remote_address = "10.0.0.2";
    req.remote_port = 40000;
    req.local_address = "10.0.0.1";
    req.local_port = 8080;
    return req;
}

// The environ of `req` in `ns["env"]`, with a constant part holding markers for the objects.
py::dict environ_of(const httpy::request& req, std::string_view root, bool& dropped) {
    py::dict ns;
    py::exec("import io\nerrors = object()\nwrapper = object()\n", ns);
    const py::dict constant = httpy::marshal::wsgi_constant_environ(
        ns["errors"], ns["wrapper"], true);
    ns["constant"] = constant;
    ns["env"] = httpy::marshal::wsgi_environ(req, constant, root,
                                             py::module_::import("io").attr("BytesIO"), dropped);
    return ns;
}

bool holds(const char* expression, const py::dict& ns) {
    return py::eval(expression, ns).cast<bool>();
}

} // namespace

TEST_CASE("the environ holds the request as PEP 3333 spells it") {
    py::gil_scoped_acquire gil;
    bool dropped = false;
    auto ns = environ_of(sample_request(), "", dropped);
    CHECK(holds("env['REQUEST_METHOD'] == 'POST'", ns));
    CHECK(holds("env['SCRIPT_NAME'] == '' and env['PATH_INFO'] == '/app/caf\\xc3\\xa9'", ns));
    CHECK(holds("env['QUERY_STRING'] == 'a=1&b=%20c'", ns));
    CHECK(holds("env['SERVER_PROTOCOL'] == 'HTTP/1.0'", ns));
    CHECK(holds("(env['SERVER_NAME'], env['SERVER_PORT']) == ('10.0.0.1', '8080')", ns));
    CHECK(holds("(env['REMOTE_ADDR'], env['REMOTE_PORT']) == ('10.0.0.2', '40000')", ns));
    CHECK(holds("env['CONTENT_TYPE'] == 'text/plain' and env['CONTENT_LENGTH'] == '2'", ns));
    CHECK(holds("'HTTP_CONTENT_TYPE' not in env and 'HTTP_CONTENT_LENGTH' not in env", ns));
    CHECK(holds("env['HTTP_HOST'] == 'example.com'", ns));
    CHECK(holds("env['HTTP_X_MANY'] == '1, 2' and env['HTTP_COOKIE'] == 'a=1; b=2'", ns));
    CHECK(holds("env['HTTP_X_LATIN'] == 'caf\\xe9'", ns));
    CHECK(holds("'HTTP_X_UNDER' not in env and not any('UNDER' in k for k in env)", ns));
    CHECK(dropped);
    CHECK(holds("env['wsgi.input'].read() == b'hi' and env['wsgi.input'].read() == b''", ns));
    CHECK(holds("env['wsgi.version'] == (1, 0) and env['wsgi.url_scheme'] == 'http'", ns));
    CHECK(holds("env['wsgi.errors'] is errors and env['wsgi.file_wrapper'] is wrapper", ns));
    CHECK(holds("env['wsgi.multithread'] is True and env['wsgi.multiprocess'] is True", ns));
    CHECK(holds("env['wsgi.run_once'] is False and env['wsgi.input_terminated'] is True", ns));
    CHECK(holds("all(type(k) is str for k in env)", ns));
    CHECK(holds("'wsgi.input' not in constant and 'PATH_INFO' not in constant", ns));
}

TEST_CASE("a root path moves its prefix from PATH_INFO to SCRIPT_NAME, only on a whole segment") {
    py::gil_scoped_acquire gil;
    bool dropped = false;
    auto req = sample_request();
    const auto under = [&](std::string path) {
        req.path = std::move(path);
        auto ns = environ_of(req, "/app", dropped);
        return py::make_tuple(ns["env"]["SCRIPT_NAME"], ns["env"]["PATH_INFO"])
            .cast<std::pair<std::string, std::string>>();
    };
    CHECK(under("/app/x") == std::pair("/app"s, "/x"s));
    CHECK(under("/app") == std::pair("/app"s, ""s));
    CHECK(under("/apple") == std::pair(""s, "/apple"s));
    CHECK(under("/other") == std::pair(""s, "/other"s));
}

TEST_CASE("CONTENT_LENGTH is the body's real length, and absent without a body or its header") {
    py::gil_scoped_acquire gil;
    bool dropped = false;
    httpy::request chunked;
    chunked.method = "POST";
    chunked.headers = {{"Transfer-Encoding", {"chunked"}}};
    chunked.body = "12345";
    CHECK(holds("env['CONTENT_LENGTH'] == '5'", environ_of(chunked, "", dropped)));
    httpy::request get;
    get.method = "GET";
    CHECK(holds("'CONTENT_LENGTH' not in env and 'CONTENT_TYPE' not in env",
                environ_of(get, "", dropped)));
    CHECK(holds("env['wsgi.input'].read() == b''", environ_of(get, "", dropped)));
    CHECK_FALSE(dropped);
}

TEST_CASE("the environ never takes anything from os.environ") {
    py::gil_scoped_acquire gil;
    bool dropped = false;
    py::module_::import("os").attr("environ")["HTTP_HOST"] = "evil";
    py::module_::import("os").attr("environ")["HTTP_X_INJECTED"] = "evil";
    auto ns = environ_of(sample_request(), "", dropped);
    CHECK(holds("env['HTTP_HOST'] == 'example.com' and 'HTTP_X_INJECTED' not in env", ns));
    py::module_::import("os").attr("environ").attr("pop")("HTTP_HOST");
    py::module_::import("os").attr("environ").attr("pop")("HTTP_X_INJECTED");
}
