#pragma once

#include <pybind11/pytypes.h>

#include "httpy/request.hpp"

#include <string_view>

namespace httpy::marshal {

/// The keys that are the same for every request: `wsgi.version` (1, 0), `wsgi.url_scheme`
/// "http", `wsgi.errors`, `wsgi.file_wrapper`, `wsgi.multithread` True, `wsgi.multiprocess`,
/// `wsgi.run_once` False, `wsgi.input_terminated` True; `multiprocess` when worker processes
/// serve the same application.
/// Requires: GIL held. Throws: pybind11::error_already_set.
pybind11::dict wsgi_constant_environ(pybind11::handle errors, pybind11::handle file_wrapper,
                                     bool multiprocess);

/// The environ of `req` (PEP 3333), from a copy of `constant`; nothing comes from
/// `os.environ`. `PATH_INFO` and `QUERY_STRING` are the path's decoded bytes and the raw query
/// as latin-1 strs; a path that is `root_path` or starts with it and a `/` has that prefix in
/// `SCRIPT_NAME` instead (else `SCRIPT_NAME` is empty). `CONTENT_LENGTH` is the body's real
/// length (also for a chunked body) when there is a body or a Content-Length header;
/// `CONTENT_TYPE` as sent; every other header as `HTTP_NAME`, repeated ones joined with ", "
/// (Cookie with "; "), values as latin-1 strs. A header whose name holds `_` is left out (it
/// would pass for the `-` one); `dropped_underscore` is then set. `wsgi.input` is
/// `bytes_io(body)`, or for a spooled body a buffered binary file over its spool file.
/// Requires: GIL held. Throws: pybind11::error_already_set.
pybind11::dict wsgi_environ(const request& req, pybind11::handle constant,
                            std::string_view root_path, pybind11::handle bytes_io,
                            bool& dropped_underscore);

} // namespace httpy::marshal
