#include <pybind11/pybind11.h>

#include "httpy/python_function.hpp"

#include "httpy/config_error.hpp"
#include "httpy/interpreter.hpp"
#include "runtime/module_import.hpp"
#include "runtime/python_error.hpp"

namespace py = pybind11;

namespace httpy {

python_function python_function::parse(std::string_view spec, std::string_view default_function) {
    // A colon after the last '/' separates the function (paths may hold colons only in folders).
    const auto slash = spec.rfind('/');
    const auto colon = spec.find(':', slash == std::string_view::npos ? 0 : slash);
    python_function f{std::string(spec.substr(0, colon)), std::string(default_function)};
    const bool named = colon != std::string_view::npos;
    if (named)
        f.function = std::string(spec.substr(colon + 1));
    if (f.module.empty() || (named && f.function.empty()))
        throw config_error("bad Python function \"" + std::string(spec) +
                           "\": expected MODULE[:FUNCTION] or FILE.py[:FUNCTION]");
    return f;
}

bool has_python_function(const python_function& f) {
    if (!interpreter::running())
        throw config_error("has_python_function(" + f.module + ":" + f.function +
                           ") needs a running httpy::interpreter");
    py::gil_scoped_acquire gil;
    try {
        return py::hasattr(detail::import_module_to_keep(f.module), f.function.c_str());
    } catch (py::error_already_set& e) {
        throw config_error("importing " + f.module + " failed:\n" + detail::format_traceback(e));
    }
}

} // namespace httpy
