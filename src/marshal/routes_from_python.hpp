#pragma once

#include <pybind11/pytypes.h>

#include "httpy/route_table.hpp"

#include <string_view>

namespace httpy::marshal {

/// Converts an init function's result, which must be a `dict[str, list[str]]`, to the raw
/// mapping. (Which form it is in, and whether its methods and patterns are valid, is
/// `route_table::parse`'s business.)
/// Requires: GIL held.
/// Throws: conversion_error naming the bad entry, e.g. `go_init returned ["/"][1] of type int;
/// expected str`.
raw_routes routes_from_python(pybind11::handle result, std::string_view function = "go_init");

} // namespace httpy::marshal
