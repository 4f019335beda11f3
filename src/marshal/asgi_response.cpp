#include "marshal/asgi_response.hpp"

#include <pybind11/pybind11.h>

#include "httpy/header_name.hpp"
#include "marshal/conversion_error.hpp"
#include "marshal/python_text.hpp"

#include <string_view>

namespace py = pybind11;

namespace httpy::marshal {

namespace {

using detail::steal_or_throw;
using detail::type_name;

[[noreturn]] void fail(const std::string& what) { throw conversion_error(what); }

std::string header_part(py::handle item, const std::string& where, const char* what) {
    std::string_view bytes;
    if (PyBytes_Check(item.ptr()))
        bytes = {PyBytes_AS_STRING(item.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(item.ptr()))};
    else if (PyByteArray_Check(item.ptr()))
        bytes = {PyByteArray_AS_STRING(item.ptr()),
                 static_cast<std::size_t>(PyByteArray_GET_SIZE(item.ptr()))};
    else
        fail(where + " has a " + what + " of type " + type_name(item) + "; expected bytes");
    if (has_forbidden_header_chars(bytes))
        fail(where + " has a " + what + " containing CR, LF or NUL");
    return std::string(bytes);
}

} // namespace

void asgi_head(py::handle status, py::handle headers, response& out) {
    if (!PyLong_CheckExact(status.ptr()))
        fail("http.response.start status of type " + type_name(status) + "; expected int");
    const long code = PyLong_AsLong(status.ptr());
    if (code < 200 || code > 599) {
        PyErr_Clear();
        fail("http.response.start status " + detail::display_repr(status) +
             ": expected 200..599");
    }
    out.status = static_cast<int>(code);
    out.headers = fields();
    if (!headers || headers.is_none())
        return;
    PyObject* iterator = PyObject_GetIter(headers.ptr());
    if (iterator == nullptr) {
        PyErr_Clear();
        fail("http.response.start headers of type " + type_name(headers) +
             "; expected an iterable of [name, value] pairs");
    }
    auto items = py::reinterpret_steal<py::object>(iterator);
    for (std::size_t index = 0;; ++index) {
        PyObject* next = PyIter_Next(items.ptr());
        if (next == nullptr) {
            if (PyErr_Occurred() != nullptr)
                throw py::error_already_set();
            return;
        }
        auto item = py::reinterpret_steal<py::object>(next);
        const std::string where = "http.response.start headers[" + std::to_string(index) + "]";
        if (!(PyTuple_Check(item.ptr()) || PyList_Check(item.ptr())) ||
            PySequence_Fast_GET_SIZE(item.ptr()) != 2)
            fail(where + " of type " + type_name(item) + "; expected a [name, value] pair");
        std::string name = header_part(PySequence_Fast_GET_ITEM(item.ptr(), 0), where, "name");
        if (!is_header_token(name))
            fail(where + ": \"" + name + "\" is not a valid header name");
        out.headers.add(std::move(name),
                        header_part(PySequence_Fast_GET_ITEM(item.ptr(), 1), where, "value"));
    }
}

void append_asgi_body(py::handle body, std::string& out, std::size_t max_bytes) {
    if (!PyObject_CheckBuffer(body.ptr()) || PyUnicode_Check(body.ptr()))
        fail("http.response.body body of type " + type_name(body) + "; expected bytes");
    Py_buffer view;
    if (PyObject_GetBuffer(body.ptr(), &view, PyBUF_SIMPLE) != 0)
        throw py::error_already_set();
    const auto size = static_cast<std::size_t>(view.len);
    if (size > max_bytes - std::min(out.size(), max_bytes)) {
        PyBuffer_Release(&view);
        fail("the ASGI application's response is larger than the limit of " +
             std::to_string(max_bytes) + " bytes held at once");
    }
    out.append(static_cast<const char*>(view.buf), size);
    PyBuffer_Release(&view);
}

} // namespace httpy::marshal
