#include "marshal/request_to_python.hpp"

#include <pybind11/pybind11.h>

#include "core/spool_file.hpp"
#include "marshal/conversion_error.hpp"
#include "marshal/interned_name.hpp"
#include "marshal/python_text.hpp"

#include <array>
#include <string>

namespace py = pybind11;

namespace httpy::marshal {

namespace {

// Straight C API on this per-request path: pybind11's wrappers add a type check and a
// conversion per string, and every new reference is owned by a handle the moment it exists.
using detail::steal_or_throw;

py::object decode(std::string_view s) {
    return steal_or_throw(
        PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogateescape"));
}

py::object to_python(const fields::value_list& values) {
    auto list = steal_or_throw(PyList_New(static_cast<Py_ssize_t>(values.size())));
    Py_ssize_t i = 0;
    for (const auto& value : values)
        // PyList_SET_ITEM steals the reference that release() hands over.
        PyList_SET_ITEM(list.ptr(), i++, decode(value).release().ptr());
    return list;
}

py::object body_of(std::string_view body, body_type type) {
    if (type == body_type::str)
        return decode(body);
    return steal_or_throw(
        PyBytes_FromStringAndSize(body.data(), static_cast<Py_ssize_t>(body.size())));
}

} // namespace

py::dict to_python(const fields& f) {
    // Sized up front: past 5 names a dict otherwise regrows its table (twice past 10, as browser
    // requests are). A CPython-private function, but exported through 3.13 and used by Cython.
    auto dict = steal_or_throw<py::dict>(_PyDict_NewPresized(static_cast<Py_ssize_t>(f.size())));
    for (const auto& [name, values] : f) {
        auto key = interned_name(name);
        auto list = to_python(values);
        if (PyDict_SetItem(dict.ptr(), key.ptr(), list.ptr()) != 0)
            throw py::error_already_set();
    }
    return dict;
}

py::object body_to_python(const request& req, body_type type) {
    if (!req.body_spool)
        return body_of(req.body, type);
    // A spooled body is read whole: the go contract hands the handler its bytes.
    const auto size = static_cast<Py_ssize_t>(req.body_spool->length());
    auto bytes = steal_or_throw(PyBytes_FromStringAndSize(nullptr, size));
    if (!httpy::detail::read_body_file(*req.body_spool, PyBytes_AS_STRING(bytes.ptr())))
        throw conversion_error("the request body could not be read back from its temporary file");
    if (type == body_type::str)
        return decode({PyBytes_AS_STRING(bytes.ptr()), static_cast<std::size_t>(size)});
    return bytes;
}

py::object call_handler(py::handle handler, const request& req, body_type type) {
    const std::array<py::object, 6> owned{
        interned_name(req.method), decode(req.path),
        to_python(req.params),      to_python(req.query),
        to_python(req.headers),     body_to_python(req, type),
    };
    std::array<PyObject*, 6> args{};
    for (std::size_t i = 0; i < owned.size(); ++i)
        args[i] = owned[i].ptr();
    return steal_or_throw(PyObject_Vectorcall(handler.ptr(), args.data(), args.size(), nullptr));
}

} // namespace httpy::marshal
