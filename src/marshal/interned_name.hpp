#pragma once

#include <pybind11/pytypes.h>

#include <string_view>

namespace httpy::marshal {

/// `name` as a str (UTF-8, surrogateescape), interned and shared from one call to the next:
/// for what repeats across requests (methods, header names, query keys, environ keys). A
/// bounded cache: a name it does not hold is decoded afresh, never wrongly.
/// Requires: GIL held. Throws: pybind11::error_already_set when Python runs out of memory.
pybind11::object interned_name(std::string_view name);

} // namespace httpy::marshal
