#pragma once

// A C++ callable as a Python function, for callbacks that run once or more per request: made
// and called through the C API (METH_FASTCALL over a capsule), without pybind11's per-function
// records and argument casting, which cost microseconds per request. Not a public header.

#include <pybind11/pytypes.h>

#include <functional>
#include <span>

namespace httpy::detail {

/// What the callback is given: its positional arguments, borrowed.
using callback_args = std::span<PyObject* const>;

/// A Python function named `name` that calls `body` with its positional arguments (keywords
/// are refused). What `body` throws reaches Python: pybind11::error_already_set as the error
/// it carries, any other std::exception as RuntimeError with its message.
/// Requires: GIL held (to make it and whenever it is called). Throws:
/// pybind11::error_already_set when Python cannot make it.
pybind11::object python_callback(const char* name,
                                 std::function<pybind11::object(callback_args)> body);

} // namespace httpy::detail
