#include "marshal/response_from_python.hpp"

#include <pybind11/pybind11.h>

#include "httpy/header_name.hpp"
#include "marshal/conversion_error.hpp"
#include "marshal/python_text.hpp"

#include <array>
#include <optional>
#include <string>

namespace py = pybind11;

namespace httpy::marshal {

namespace {

using detail::display_repr;
using detail::display_str;
using detail::steal_or_throw;
using detail::type_name;

constexpr std::string_view expected_shape = "; expected a 3-item sequence (status, body, headers)";
// "RuntimeError: boom"; the error has already been fetched (and cleared) by `e`.
std::string describe(const py::error_already_set& e) {
    const py::handle value = e.value();
    if (!value)
        return "an unknown Python error";
    std::string text = type_name(value);
    try {
        const auto message = steal_or_throw(PyObject_Str(value.ptr()));
        if (PyUnicode_GetLength(message.ptr()) > 0)
            text += ": " + display_str(message);
    } catch (py::error_already_set&) {
    }
    return text;
}

// Owns a Py_buffer for its lifetime, as pybind11 handles own references.
class buffer_view {
public:
    explicit buffer_view(py::handle obj) {
        if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_FULL_RO) != 0)
            throw py::error_already_set();
    }
    ~buffer_view() { PyBuffer_Release(&view_); }
    buffer_view(const buffer_view&) = delete;
    buffer_view& operator=(const buffer_view&) = delete;

    // A strided memoryview is gathered into one contiguous copy.
    std::string bytes() {
        std::string out(static_cast<std::size_t>(view_.len), '\0');
        if (PyBuffer_ToContiguous(out.data(), &view_, view_.len, 'C') != 0)
            throw py::error_already_set();
        return out;
    }

private:
    Py_buffer view_{};
};

std::string plural_items(Py_ssize_t n) {
    return std::to_string(n) + (n == 1 ? " item" : " items");
}

// Where a header value sits: `headers["X-A"]` for a bare str, `headers["X-A"][i]` in a list.
struct header_slot {
    std::string_view name;
    std::optional<Py_ssize_t> index;

    std::string render() const {
        std::string text = "headers[\"" + std::string(name) + "\"]";
        return index ? text + "[" + std::to_string(*index) + "]" : text;
    }
};

class converter {
public:
    converter(std::string_view function, std::size_t max_body_bytes)
        : function_(function), max_body_bytes_(max_body_bytes) {}

    response convert(py::handle result) const {
        const auto items = unpack(result);
        return {status(items[0]), body(items[1]), headers(items[2])};
    }

    std::string body(py::handle obj) const;

    [[noreturn]] void fail(const std::string& detail) const {
        throw conversion_error(std::string(function_) + " returned " + detail);
    }

private:
    std::array<py::object, 3> unpack(py::handle result) const;
    std::array<py::object, 3> unpack_generic(py::handle result) const;
    int status(py::handle obj) const;
    fields headers(py::handle obj) const;
    void add_header(fields& out, py::handle key, py::handle values) const;
    std::string header_name(py::handle key) const;
    std::string header_value(py::handle item, const header_slot& slot) const;

    void check_body_size(std::size_t size, py::handle obj) const;

    std::string_view function_;
    std::size_t max_body_bytes_;
};

std::array<py::object, 3> converter::unpack(py::handle result) const {
    PyObject* p = result.ptr();
    if (!PyTuple_Check(p) && !PyList_Check(p))
        return unpack_generic(result);
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(p);
    if (n != 3)
        fail("a " + type_name(result) + " of " + plural_items(n) + std::string(expected_shape));
    auto item = [p](Py_ssize_t i) {
        return py::reinterpret_borrow<py::object>(PySequence_Fast_GET_ITEM(p, i));
    };
    return {item(0), item(1), item(2)};
}

// Any other sequence, through its own __len__ and __getitem__, which may raise.
std::array<py::object, 3> converter::unpack_generic(py::handle result) const {
    PyObject* p = result.ptr();
    // str, bytes and friends are sequences to Python but never a response; dicts are not.
    const bool text_like = PyUnicode_Check(p) || PyBytes_Check(p) || PyByteArray_Check(p) ||
                           PyMemoryView_Check(p);
    if (text_like || !PySequence_Check(p))
        fail("a value of type " + type_name(result) + std::string(expected_shape));
    const Py_ssize_t n = PySequence_Size(p);
    if (n < 0) {
        const py::error_already_set e;
        fail("a " + type_name(result) + " whose len() raised " + describe(e));
    }
    if (n != 3)
        fail("a " + type_name(result) + " of " + plural_items(n) + std::string(expected_shape));
    std::array<py::object, 3> items;
    for (Py_ssize_t i = 0; i < 3; ++i) {
        try {
            items[static_cast<std::size_t>(i)] = steal_or_throw(PySequence_GetItem(p, i));
        } catch (const py::error_already_set& e) {
            fail("a " + type_name(result) + " whose item " + std::to_string(i) + " raised " +
                 describe(e));
        }
    }
    return items;
}

int converter::status(py::handle obj) const {
    if (PyBool_Check(obj.ptr()) || !PyLong_Check(obj.ptr()))
        fail("status of type " + type_name(obj) + "; expected int");
    int overflow = 0;
    const long value = PyLong_AsLongAndOverflow(obj.ptr(), &overflow);
    if (value == -1 && PyErr_Occurred()) {
        const py::error_already_set e;
        fail("status that could not be read: " + describe(e));
    }
    if (overflow == 0 && value >= 200 && value <= 599)
        return static_cast<int>(value);
    // 100 Continue, 101 Switching Protocols and the rest are interim answers that the server
    // itself sends when due; sent as the final response they would leave the client waiting.
    if (overflow == 0 && value >= 100 && value <= 199)
        fail("status " + std::to_string(value) +
             "; expected an int in 200..599 (a 1xx status is not a final response)");
    // int's own repr, not a subclass's; it refuses ints beyond sys.get_int_max_str_digits().
    std::string text = "out of range";
    try {
        text = display_str(steal_or_throw(PyLong_Type.tp_repr(obj.ptr())));
    } catch (py::error_already_set&) {
    }
    fail("status " + text + "; expected an int in 200..599");
}

std::string converter::body(py::handle obj) const {
    PyObject* p = obj.ptr();
    if (PyBytes_Check(p)) {
        check_body_size(static_cast<std::size_t>(PyBytes_GET_SIZE(p)), obj);
        return {PyBytes_AS_STRING(p), static_cast<std::size_t>(PyBytes_GET_SIZE(p))};
    }
    if (PyByteArray_Check(p)) {
        check_body_size(static_cast<std::size_t>(PyByteArray_GET_SIZE(p)), obj);
        return {PyByteArray_AS_STRING(p), static_cast<std::size_t>(PyByteArray_GET_SIZE(p))};
    }
    try {
        if (PyUnicode_Check(p)) {
            // Each character is at least one UTF-8 byte: refuse before encoding when we can.
            check_body_size(static_cast<std::size_t>(PyUnicode_GET_LENGTH(p)), obj);
            std::string encoded = detail::encode_utf8(obj);
            check_body_size(encoded.size(), obj);
            return encoded;
        }
        if (PyMemoryView_Check(p)) {
            check_body_size(static_cast<std::size_t>(PyMemoryView_GET_BUFFER(p)->len), obj);
            return buffer_view(obj).bytes();
        }
    } catch (const py::error_already_set& e) {
        fail("body of type " + type_name(obj) + " that could not be converted to bytes (" +
             describe(e) + ")");
    }
    fail("body of type " + type_name(obj) + "; expected str, bytes, bytearray or memoryview");
}

void converter::check_body_size(std::size_t size, py::handle obj) const {
    if (size > max_body_bytes_)
        fail("a body of type " + type_name(obj) + " of " + std::to_string(size) +
             " bytes; the response limit is " + std::to_string(max_body_bytes_) + " bytes");
}

// Any dict subclass is read through PyDict_Next: its stored items, whatever it overrides.
fields converter::headers(py::handle obj) const {
    fields out;
    if (obj.is_none())
        return out;
    if (!PyDict_Check(obj.ptr()))
        fail("headers of type " + type_name(obj) + "; expected dict or None");
    out.reserve(static_cast<std::size_t>(PyDict_GET_SIZE(obj.ptr())));
    Py_ssize_t pos = 0;
    PyObject* key = nullptr;   // borrowed from the dict for one step only
    PyObject* value = nullptr; // likewise
    while (PyDict_Next(obj.ptr(), &pos, &key, &value))
        add_header(out, py::reinterpret_borrow<py::object>(key),
                   py::reinterpret_borrow<py::object>(value));
    return out;
}

// An empty list adds no header line, as with Go's http.Header.
void converter::add_header(fields& out, py::handle key, py::handle values) const {
    const std::string name = header_name(key);
    PyObject* p = values.ptr();
    if (PyUnicode_Check(p)) {
        out.add(name, header_value(values, {name, std::nullopt}));
        return;
    }
    if (!PyList_Check(p) && !PyTuple_Check(p))
        fail(header_slot{name, std::nullopt}.render() + " of type " + type_name(values) +
             "; expected list[str] or str");
    // No Python code runs in this loop, yet the size is re-read as if it could.
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(p); ++i) {
        const auto item = py::reinterpret_borrow<py::object>(PySequence_Fast_GET_ITEM(p, i));
        out.add(name, header_value(item, {name, i}));
    }
}

std::string converter::header_name(py::handle key) const {
    if (!PyUnicode_Check(key.ptr()))
        fail("a header name " + display_repr(key) + " of type " + type_name(key) +
             "; expected str");
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(key.ptr(), &size);
    if (data == nullptr)
        PyErr_Clear(); // a lone surrogate: not a token either, reported below
    else if (std::string_view name{data, static_cast<std::size_t>(size)}; is_header_token(name))
        return std::string(name);
    fail("headers[\"" + display_str(key) + "\"]: not a valid header name");
}

std::string converter::header_value(py::handle item, const header_slot& slot) const {
    if (!PyUnicode_Check(item.ptr()))
        fail(slot.render() + " of type " + type_name(item) + "; expected str");
    std::string value;
    try {
        value = detail::encode_utf8(item);
    } catch (const py::error_already_set& e) {
        fail(slot.render() + " that could not be encoded as UTF-8 (" + describe(e) + ")");
    }
    if (has_forbidden_header_chars(value))
        fail(slot.render() + " containing CR, LF or NUL");
    return value;
}

} // namespace

std::string body_from_python(py::handle body, std::string_view function,
                             std::size_t max_body_bytes) {
    return converter{function, max_body_bytes}.body(body);
}

response response_from_python(py::handle result, std::string_view function,
                              std::size_t max_body_bytes) {
    const converter convert{function, max_body_bytes};
    if (!result)
        convert.fail("nothing (a null object)");
    try {
        return convert.convert(result);
    } catch (const py::error_already_set& e) {
        // A safety net: every step above that can raise already reports its own location.
        convert.fail("a value that could not be read (" + describe(e) + ")");
    }
}

} // namespace httpy::marshal
