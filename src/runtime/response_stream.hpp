#pragma once

// A response body that Python produces while the server sends it: the iterable a WSGI
// application returned (or a go handler's iterator) stays in the executor's `streams`, and the
// server sees only a `body_stream` whose chunks are executor calls. Not a public header.

#include <pybind11/pytypes.h>

#include "httpy/body_stream.hpp"
#include "runtime/executor_state.hpp"

#include <cstddef>
#include <memory>

namespace httpy::detail {

/// How a stream's items become bytes.
enum class chunk_kind : unsigned char {
    wsgi, // bytes or bytearray; write() data of `start_response` comes first
    go,   // str (UTF-8, surrogateescape) or bytes-like
    asgi, // the iterable is an ASGI exchange: its next_chunk() gives the application's sends
};

/// Puts `stream` into `pool.streams` and returns the body the server pulls: each chunk is one
/// call on the pool (within its handler timeout); at the end, after an error and when the
/// server drops it early, the iterable's `close()` runs, once.
/// Requires: GIL held.
std::shared_ptr<body_stream> open_response_stream(executor::state& pool, open_stream stream,
                                                  chunk_kind kind, std::size_t max_chunk_bytes);

/// Calls `iterable.close()` when it has one; what it raises is logged, not thrown.
/// Requires: GIL held.
void close_iterable(pybind11::handle iterable, const std::string& description) noexcept;

/// Closes every stream still open (at shutdown). Requires: GIL held.
void close_all_streams(executor::state& pool) noexcept;

} // namespace httpy::detail
