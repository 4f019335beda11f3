#pragma once

#include <pybind11/pytypes.h>

#include "httpy/response.hpp"

#include <cstddef>
#include <string>

namespace httpy::marshal {

/// Sets `out`'s status and headers from what a WSGI application passed to start_response:
/// `status` a str "NNN reason" with NNN in 200..599 (informational ones are the server's),
/// `headers` a list of (name, value) tuples of strs, names HTTP tokens, values latin-1 without
/// CR, LF or NUL (sent as latin-1 bytes).
/// Requires: GIL held. Throws: conversion_error naming the problem, e.g.
/// `start_response status "99 Too Low": expected "NNN reason" with NNN in 200..599`.
void wsgi_head(pybind11::handle status, pybind11::handle headers, response& out);

/// Appends one item a WSGI response iterable yielded (or one write() took), `bytes` or
/// `bytearray`, to `out`; `total` counts what the response has taken so far and may not pass
/// `max_bytes`.
/// Requires: GIL held. Throws: conversion_error for another type or a body over the limit.
void append_wsgi_chunk(pybind11::handle chunk, std::string& out, std::size_t& total,
                       std::size_t max_bytes);

} // namespace httpy::marshal
