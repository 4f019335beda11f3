#pragma once

#include <pybind11/pytypes.h>

#include "httpy/fields.hpp"
#include "httpy/request.hpp"

namespace httpy::marshal {

/// How the request body reaches Python.
enum class body_type {
    /// `str`, decoded as UTF-8 with `surrogateescape` (the exact bytes round-trip).
    str,
    /// `bytes`, as received.
    bytes,
};

/// `fields` as a `dict[str, list[str]]`, order kept. Strings are decoded as UTF-8 with
/// `surrogateescape`, so invalid UTF-8 is never lost.
/// Requires: GIL held. Throws: pybind11::error_already_set when Python runs out of memory.
pybind11::dict to_python(const fields& f);

/// The request's body as `str` or `bytes`, per `type`; a spooled body is read in from its file.
/// Requires: GIL held. Throws: conversion_error when the spool file cannot be read.
pybind11::object body_to_python(const request& req, body_type type);

/// Calls `handler(method, path, params, query, headers, body)` with the request's values and
/// returns what it returned.
/// Requires: GIL held. Throws: pybind11::error_already_set when the handler raises.
pybind11::object call_handler(pybind11::handle handler, const request& req, body_type type);

} // namespace httpy::marshal
