#include <pybind11/pybind11.h>

#include "runtime/python_error.hpp"

namespace py = pybind11;

namespace httpy::detail {

std::string format_traceback(py::error_already_set& e) noexcept {
    try {
        auto lines = py::module_::import("traceback")
                         .attr("format_exception")(e.type(), e.value(), e.trace());
        return py::str("").attr("join")(lines).cast<std::string>();
    } catch (...) {
        return e.what();
    }
}

std::string describe(py::error_already_set& e) noexcept {
    try {
        auto name = e.type().attr("__name__").cast<std::string>();
        auto text = py::str(e.value()).cast<std::string>();
        return text.empty() ? name : name + ": " + text;
    } catch (...) {
        return e.what();
    }
}

} // namespace httpy::detail
