#include "marshal/asgi_scope.hpp"

#include <pybind11/pybind11.h>

#include "marshal/interned_name.hpp"
#include "marshal/python_text.hpp"

#include <string>

namespace py = pybind11;

namespace httpy::marshal {

namespace {

using detail::steal_or_throw;

py::object bytes_of(std::string_view s) {
    return steal_or_throw(PyBytes_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size())));
}

void set(py::handle dict, std::string_view key, py::handle value) {
    if (PyDict_SetItem(dict.ptr(), interned_name(key).ptr(), value.ptr()) != 0)
        throw py::error_already_set();
}

// (host, port), or None for a request that came over no connection.
py::object endpoint(const std::string& host, unsigned short port) {
    if (host.empty())
        return py::none();
    return steal_or_throw(Py_BuildValue("(NH)", interned_name(host).release().ptr(), port));
}

py::object header_list(const fields& headers) {
    std::size_t count = 0;
    for (const auto& entry : headers)
        count += entry.second.size();
    auto list = steal_or_throw(PyList_New(static_cast<Py_ssize_t>(count)));
    Py_ssize_t i = 0;
    std::string lower;
    for (const auto& [name, values] : headers) {
        lower.assign(name);
        for (char& c : lower)
            if (c >= 'A' && c <= 'Z')
                c = static_cast<char>(c + 32);
        py::object name_bytes = bytes_of(lower);
        for (const auto& value : values) {
            PyObject* pair = PyTuple_New(2);
            if (pair == nullptr)
                throw py::error_already_set();
            PyTuple_SET_ITEM(pair, 0, name_bytes.inc_ref().ptr());
            PyTuple_SET_ITEM(pair, 1, bytes_of(value).release().ptr());
            PyList_SET_ITEM(list.ptr(), i++, pair);
        }
    }
    return list;
}

} // namespace

py::dict asgi_constant_scope(std::string_view root_path) {
    py::dict d;
    d["type"] = py::str("http");
    py::dict asgi;
    asgi["version"] = py::str("3.0");
    asgi["spec_version"] = py::str(asgi_http_spec_version);
    d["asgi"] = asgi;
    d["scheme"] = py::str("http");
    d["root_path"] = py::str(std::string(root_path));
    py::dict extensions;
    extensions["http.response.pathsend"] = py::dict();
    d["extensions"] = extensions;
    return d;
}

py::dict asgi_scope(const request& req, py::handle constant, py::handle state) {
    auto scope = steal_or_throw<py::dict>(PyDict_Copy(constant.ptr()));
    set(scope, "http_version", interned_name(req.version == 10 ? "1.0" : "1.1"));
    set(scope, "method", interned_name(req.method));
    set(scope, "path",
        steal_or_throw(PyUnicode_DecodeUTF8(req.path.data(),
                                            static_cast<Py_ssize_t>(req.path.size()), "replace")));
    set(scope, "raw_path", bytes_of(req.raw_path.empty() ? req.path : req.raw_path));
    set(scope, "query_string", bytes_of(req.query_string));
    set(scope, "headers", header_list(req.headers));
    set(scope, "client", endpoint(req.remote_address, req.remote_port));
    set(scope, "server", endpoint(req.local_address, req.local_port));
    if (req.scheme != "http") // the constant part says http
        set(scope, "scheme", interned_name(req.scheme));
    if (state)
        set(scope, "state", steal_or_throw(PyDict_Copy(state.ptr())));
    return scope;
}

} // namespace httpy::marshal
