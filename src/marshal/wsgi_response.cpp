#include "marshal/wsgi_response.hpp"

#include <pybind11/pybind11.h>

#include "httpy/header_name.hpp"
#include "marshal/conversion_error.hpp"
#include "marshal/python_text.hpp"

#include <string_view>

namespace py = pybind11;

namespace httpy::marshal {

namespace {

using detail::display_str;
using detail::type_name;

[[noreturn]] void fail(const std::string& what) { throw conversion_error(what); }

// A str of code points below 256 as its latin-1 bytes; nullopt for any other str.
std::optional<std::string> latin1_bytes(py::handle str) {
    PyObject* bytes = PyUnicode_AsLatin1String(str.ptr());
    if (bytes == nullptr) {
        PyErr_Clear();
        return std::nullopt;
    }
    auto owned = py::reinterpret_steal<py::object>(bytes);
    return std::string(PyBytes_AS_STRING(bytes), static_cast<std::size_t>(PyBytes_GET_SIZE(bytes)));
}

int parse_status(py::handle status) {
    if (!PyUnicode_Check(status.ptr()))
        fail("start_response status of type " + type_name(status) + "; expected str");
    const auto text = latin1_bytes(status);
    const std::string_view s = text ? std::string_view(*text) : std::string_view();
    const auto digit = [&](std::size_t i) { return s[i] >= '0' && s[i] <= '9'; };
    const bool shaped = s.size() >= 4 && digit(0) && digit(1) && digit(2) && s[3] == ' ' &&
                        !has_forbidden_header_chars(s);
    const int code = shaped ? (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0') : 0;
    if (code < 200 || code > 599)
        fail("start_response status \"" + display_str(status) +
             "\": expected \"NNN reason\" with NNN in 200..599");
    return code;
}

std::string header_part(py::handle item, std::size_t index, const char* what) {
    const std::string where = "start_response headers[" + std::to_string(index) + "]";
    if (!PyUnicode_Check(item.ptr()))
        fail(where + " has a " + what + " of type " + type_name(item) + "; expected str");
    auto bytes = latin1_bytes(item);
    if (!bytes)
        fail(where + " has a " + what + " \"" + display_str(item) +
             "\" that is not latin-1 (encode other text per RFC 8187)");
    if (has_forbidden_header_chars(*bytes))
        fail(where + " has a " + what + " containing CR, LF or NUL");
    return std::move(*bytes);
}

} // namespace

void wsgi_head(py::handle status, py::handle headers, response& out) {
    out.status = parse_status(status);
    if (!PyList_Check(headers.ptr()))
        fail("start_response headers of type " + type_name(headers) + "; expected a list");
    out.headers = fields();
    const Py_ssize_t n = PyList_GET_SIZE(headers.ptr());
    for (Py_ssize_t i = 0; i < n; ++i) {
        py::handle item = PyList_GET_ITEM(headers.ptr(), i);
        const auto index = static_cast<std::size_t>(i);
        if (!PyTuple_Check(item.ptr()) || PyTuple_GET_SIZE(item.ptr()) != 2)
            fail("start_response headers[" + std::to_string(index) + "] of type " +
                 type_name(item) + "; expected a (name, value) tuple");
        std::string name = header_part(PyTuple_GET_ITEM(item.ptr(), 0), index, "name");
        if (!is_header_token(name))
            fail("start_response headers[" + std::to_string(index) + "]: \"" + name +
                 "\" is not a valid header name");
        out.headers.add(name, header_part(PyTuple_GET_ITEM(item.ptr(), 1), index, "value"));
    }
}

void append_wsgi_chunk(py::handle chunk, std::string& out, std::size_t& total,
                       std::size_t max_bytes) {
    const char* data = nullptr;
    std::size_t size = 0;
    if (PyBytes_Check(chunk.ptr())) {
        data = PyBytes_AS_STRING(chunk.ptr());
        size = static_cast<std::size_t>(PyBytes_GET_SIZE(chunk.ptr()));
    } else if (PyByteArray_Check(chunk.ptr())) {
        data = PyByteArray_AS_STRING(chunk.ptr());
        size = static_cast<std::size_t>(PyByteArray_GET_SIZE(chunk.ptr()));
    } else {
        fail("the WSGI application's response iterable yielded a " + type_name(chunk) +
             "; expected bytes");
    }
    if (size > max_bytes - std::min(total, max_bytes))
        fail("the WSGI application's response is larger than the limit of " +
             std::to_string(max_bytes) + " bytes held at once");
    total += size;
    out.append(data, size);
}

} // namespace httpy::marshal
