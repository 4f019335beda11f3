#pragma once

// The WSGI objects an environ carries that are Python classes (start_response, wsgi.errors,
// wsgi.file_wrapper), made once per application. Not a public header.

#include <pybind11/pytypes.h>

#include <cstddef>
#include <string>

namespace httpy::detail {

struct wsgi_support {
    /// The type of each request's start_response (runtime/start_response.hpp).
    pybind11::object start_response_type;
    /// `wsgi.errors`: writes each line to httpy's log.
    pybind11::object errors;
    /// `wsgi.file_wrapper`.
    pybind11::object file_wrapper_type;
    /// `file_region(wrapper)`: `(fd, offset, length)` of the regular file a file wrapper
    /// wraps, `fd` a duplicate descriptor the caller owns; None for any other file-like.
    pybind11::object file_region;
    /// `io.BytesIO`, for `wsgi.input`.
    pybind11::object bytes_io;
};

/// Appends to `out` what the write() of `start_response` took since the
/// last look, in order, and forgets it there; `total` and `max` bound it as
/// `marshal::append_wsgi_chunk` does.
/// Requires: GIL held. Throws: conversion_error, pybind11::error_already_set.
void take_written(pybind11::handle start_response, std::string& out, std::size_t& total,
                  std::size_t max);

/// Makes the objects. Requires: GIL held. Throws: pybind11::error_already_set.
wsgi_support make_wsgi_support();

} // namespace httpy::detail
