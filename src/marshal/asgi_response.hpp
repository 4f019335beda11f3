#pragma once

#include <pybind11/pytypes.h>

#include "httpy/response.hpp"

#include <cstddef>
#include <string>

namespace httpy::marshal {

/// Sets `out`'s status and headers from an `http.response.start` message's `status` and
/// `headers`: an int in 200..599 (not a bool; informational responses are the server's), and
/// an iterable of [name, value] pairs of bytes (or bytearray), names HTTP tokens, no CR, LF
/// or NUL anywhere. A missing `headers` is passed as a null handle.
/// Requires: GIL held. Throws: conversion_error naming the problem, e.g.
/// `http.response.start headers[2] has a value containing CR, LF or NUL`.
void asgi_head(pybind11::handle status, pybind11::handle headers, response& out);

/// Appends the `body` of an `http.response.body` message (bytes, bytearray or memoryview) to
/// `out`, which may not grow past `max_bytes`.
/// Requires: GIL held. Throws: conversion_error for another type or a body over the limit.
void append_asgi_body(pybind11::handle body, std::string& out, std::size_t max_bytes);

} // namespace httpy::marshal
