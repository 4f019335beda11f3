#pragma once

#include <pybind11/pytypes.h>

#include "httpy/response.hpp"

#include <cstddef>
#include <limits>
#include <string_view>

namespace httpy::marshal {

/// Converts a request handler's result to a response, accepting exactly what the contract
/// (docs/python-contract.md) accepts: a 3-item sequence (status: int in 200..599, not bool;
/// body: str (UTF-8, surrogateescape) or bytes/bytearray/memoryview; headers: None or
/// dict[str, list[str] | str]). Header names must be HTTP tokens; names and values containing
/// CR, LF or NUL are refused.
///
/// `function` names the handler in messages. A body longer than `max_body_bytes` is refused
/// before it is copied, so a handler returning 100 MB costs no second 100 MB.
/// Requires: GIL held.
/// Throws: conversion_error naming the location and the types, e.g.
/// `go_request returned headers["X-Test"][0] of type int; expected str`.
response response_from_python(pybind11::handle result, std::string_view function = "go_request",
                              std::size_t max_body_bytes = std::numeric_limits<std::size_t>::max());

/// One body as the contract accepts it (the `body` item above, or one chunk of a streamed body):
/// str (UTF-8, surrogateescape), bytes, bytearray or memoryview, at most `max_body_bytes`.
/// Requires: GIL held. Throws: conversion_error, e.g. `FUNCTION returned body of type int; ...`.
std::string body_from_python(pybind11::handle body, std::string_view function,
                             std::size_t max_body_bytes);

} // namespace httpy::marshal
