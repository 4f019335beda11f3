#pragma once

#include <pybind11/pytypes.h>

#include "httpy/request.hpp"

#include <string_view>

namespace httpy::marshal {

/// The ASGI spec version httpy implements in full for HTTP (docs/asgi.md): `send()` after the
/// client has gone raises OSError (2.4).
inline constexpr const char* asgi_http_spec_version = "2.4";

/// The keys of an HTTP scope that are the same for every request of one application: `type`
/// "http", `asgi` {"version": "3.0", "spec_version": ...}, `scheme` "http", `root_path` and
/// `extensions` (`http.response.pathsend`).
/// Requires: GIL held. Throws: pybind11::error_already_set.
pybind11::dict asgi_constant_scope(std::string_view root_path);

/// The HTTP scope of `req` (ASGI HTTP spec), from a copy of `constant`; nothing comes from
/// `os.environ`. `path` is the decoded path as UTF-8 (invalid bytes replaced, as uvicorn
/// does), root path included; `raw_path` the path as sent and `query_string` the query as
/// sent, both bytes; `headers` a list of (name, value) byte pairs, names lower-cased, each
/// name's values in order, names in the order they first came; `client` and `server`
/// (host, port) with an int port, None without a connection; `state` a shallow copy of
/// `state` (the lifespan's), left out when `state` is null.
/// Requires: GIL held. Throws: pybind11::error_already_set.
pybind11::dict asgi_scope(const request& req, pybind11::handle constant, pybind11::handle state);

} // namespace httpy::marshal
