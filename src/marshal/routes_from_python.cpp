#include "marshal/routes_from_python.hpp"

#include <pybind11/pybind11.h>

#include "marshal/conversion_error.hpp"
#include "marshal/python_text.hpp"

#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;

namespace httpy::marshal {

namespace {

using detail::display_repr;
using detail::display_str;
using detail::type_name;

constexpr std::string_view expected_mapping = "; expected dict[str, list[str]]";

// Surrogateescape, as for request paths: a pattern is matched against the raw path bytes.
std::optional<std::string> encode(py::handle str) {
    try {
        return detail::encode_utf8(str);
    } catch (const py::error_already_set&) {
        return std::nullopt; // the caller names the entry instead
    }
}

class converter {
public:
    explicit converter(std::string_view function) : function_(function) {}

    raw_routes convert(py::handle result) const {
        if (!result || !PyDict_Check(result.ptr()))
            fail("a value of type " + std::string(result ? type_name(result) : "NULL") +
                 std::string(expected_mapping));
        raw_routes routes;
        Py_ssize_t pos = 0;
        PyObject* key = nullptr;   // borrowed from the dict for one step only
        PyObject* value = nullptr; // likewise
        while (PyDict_Next(result.ptr(), &pos, &key, &value)) {
            const auto key_object = py::reinterpret_borrow<py::object>(key);
            std::string name = entry_key(key_object);
            routes[std::move(name)] =
                entry_values(key_object, py::reinterpret_borrow<py::object>(value));
        }
        return routes;
    }

private:
    [[noreturn]] void fail(const std::string& detail) const {
        throw conversion_error(std::string(function_) + " returned " + detail);
    }

    std::string entry_key(py::handle key) const {
        if (!PyUnicode_Check(key.ptr()))
            fail("a key " + display_repr(key) + " of type " + type_name(key) + "; expected str");
        if (auto text = encode(key))
            return *std::move(text);
        fail("a key \"" + display_str(key) + "\" that cannot be encoded as UTF-8");
    }

    std::vector<std::string> entry_values(py::handle key, py::handle values) const {
        const std::string where = "[\"" + display_str(key) + "\"]";
        PyObject* p = values.ptr();
        if (!PyList_Check(p) && !PyTuple_Check(p))
            fail(where + " of type " + type_name(values) + "; expected list[str]");
        std::vector<std::string> out;
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(p); ++i) {
            const auto item = py::reinterpret_borrow<py::object>(PySequence_Fast_GET_ITEM(p, i));
            const std::string at = where + "[" + std::to_string(i) + "]";
            if (!PyUnicode_Check(item.ptr()))
                fail(at + " of type " + type_name(item) + "; expected str");
            auto text = encode(item);
            if (!text)
                fail(at + " \"" + display_str(item) + "\" that cannot be encoded as UTF-8");
            out.push_back(*std::move(text));
        }
        return out;
    }

    std::string_view function_;
};

} // namespace

raw_routes routes_from_python(py::handle result, std::string_view function) {
    return converter{function}.convert(result);
}

} // namespace httpy::marshal
