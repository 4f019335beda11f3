#pragma once

#include <pybind11/pytypes.h>

#include <string>

namespace httpy::detail {

/// Imports `module` as `python_function` names it: a module name through Python's import
/// system (with the working directory first on `sys.path`; imported once per process), or a
/// `.py` file (with its folder first on `sys.path`), executed under its stem name into a new
/// module each time, so that each app has its own. A file kept by `import_module_to_keep` is
/// taken instead of executed again.
/// Requires: GIL held. Throws: config_error for a missing file; error_already_set when the
/// import raises.
pybind11::object import_module(const std::string& module);

/// As `import_module`, and keeps a file's module for the next `import_module` of the same file
/// (one file at a time; a later call replaces it). Requires: GIL held.
pybind11::object import_module_to_keep(const std::string& module);

/// Releases a kept module nobody took. Requires: GIL held, before Python is finalised.
void release_kept_module() noexcept;

} // namespace httpy::detail
