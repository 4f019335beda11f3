#pragma once

#include <string>
#include <string_view>

namespace httpy {

/// A Python function named by module and function: `worker:go_request`, or a file,
/// `examples/worker.py:go_request`.
struct python_function {
    /// A module name importable from the working directory, or a path to a `.py` file.
    std::string module;
    std::string function;

    /// Parses `MODULE[:FUNCTION]` or `FILE.py[:FUNCTION]`; the function defaults to
    /// `default_function` (which may be empty: see `app_options::handler`).
    /// Throws: config_error when the module part is empty, or a `:` is followed by nothing.
    static python_function parse(std::string_view spec, std::string_view default_function);

    friend bool operator==(const python_function&, const python_function&) = default;
};

/// True when `f.module` has an attribute `f.function`: e.g. whether a handler module has a
/// `go_init` to pass as `app_options::init`, as `httpy serve` asks before it builds its app.
///
/// Imports the module the way `app` does, taking the GIL once on the calling thread. A module
/// name stays imported (as Python's import system keeps it); a file's module is kept for the
/// next `app` that loads the same file, so that the file still runs once, not twice.
///
/// Requires: an `interpreter` exists.
/// Throws: config_error when there is no interpreter, or the module is missing or its import
/// raises (with the traceback).
bool has_python_function(const python_function& f);

} // namespace httpy
