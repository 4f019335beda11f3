#include "marshal/python_text.hpp"

#include <pybind11/pybind11.h>

#include <algorithm>
#include <string_view>

namespace py = pybind11;

namespace httpy::marshal::detail {

namespace {

// Messages end up in logs: a hostile handler must not flood them or forge lines.
constexpr std::size_t max_display = 200;

std::string bytes_of(py::handle bytes) {
    return {PyBytes_AS_STRING(bytes.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(bytes.ptr()))};
}

std::string escape_for_log(std::string_view text) {
    std::size_t cut = std::min(text.size(), max_display);
    while (cut > 0 && cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
        --cut; // never split a UTF-8 sequence
    std::string out;
    static constexpr char hex[] = "0123456789abcdef";
    for (unsigned char c : text.substr(0, cut)) {
        if (c == '\r' || c == '\n' || c == '"')
            out += c == '\r' ? "\\r" : c == '\n' ? "\\n" : "\\\"";
        else if (c < 0x20 || c == 0x7f)
            out += {'\\', 'x', hex[c >> 4], hex[c & 0xf]};
        else
            out += static_cast<char>(c);
    }
    return cut < text.size() ? out + "..." : out;
}

} // namespace

// A class name can hold any character (`type("A\r\nB", (), {})`): escaped like any text.
std::string type_name(py::handle obj) { return escape_for_log(Py_TYPE(obj.ptr())->tp_name); }

std::string display_str(py::handle str) {
    try {
        return escape_for_log(bytes_of(
            steal_or_throw(PyUnicode_AsEncodedString(str.ptr(), "utf-8", "backslashreplace"))));
    } catch (py::error_already_set&) {
        return "<unprintable>";
    }
}

std::string display_repr(py::handle obj) {
    try {
        return display_str(steal_or_throw(PyObject_Repr(obj.ptr())));
    } catch (py::error_already_set&) {
        return "<unprintable " + type_name(obj) + ">";
    }
}

std::string encode_utf8(py::handle str) {
    Py_ssize_t size = 0;
    if (const char* data = PyUnicode_AsUTF8AndSize(str.ptr(), &size))
        return {data, static_cast<std::size_t>(size)};
    if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
        throw py::error_already_set();
    PyErr_Clear(); // the strict encoder refused a surrogate: retry with the escape handler
    return bytes_of(steal_or_throw(PyUnicode_AsEncodedString(str.ptr(), "utf-8", "surrogateescape")));
}

} // namespace httpy::marshal::detail
