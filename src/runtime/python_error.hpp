#pragma once

#include <pybind11/pytypes.h>

#include <string>

namespace httpy::detail {

/// The exception's Python traceback, formatted as Python prints it.
/// Requires: GIL held. Never throws: falls back to pybind11's own rendering.
std::string format_traceback(pybind11::error_already_set& e) noexcept;

/// One line: the exception's type name and message, e.g. "TimeoutError: too slow".
/// Requires: GIL held. Never throws.
std::string describe(pybind11::error_already_set& e) noexcept;

} // namespace httpy::detail
