#pragma once

#include <pybind11/pytypes.h>

#include "httpy/body_file.hpp"

namespace httpy::marshal {

/// A buffered binary file object (`io.BufferedReader`) that reads a spooled request body from
/// its start, through a descriptor of its own: a duplicate shares the file offset, so a request
/// handed to Python twice reads its body twice.
/// Requires: GIL held. Throws: std::system_error when the descriptor cannot be duplicated or
/// positioned; pybind11::error_already_set when Python cannot make the file.
pybind11::object open_spooled_body(const body_file& spool);

} // namespace httpy::marshal
