#pragma once

// The `start_response` callable of one WSGI request, a C type: the application calls it (and
// the write() it returns) as Python code does, and the call reads what it was given straight
// from the object, with no attribute lookups. Not a public header.

#include <pybind11/pytypes.h>

#include <cstddef>

namespace httpy::detail {

/// The type, made once per application (a heap type). Requires: GIL held.
pybind11::object make_start_response_type();

/// A new start_response of `type` whose write() holds at most `max_written` bytes before the
/// head can go. Requires: GIL held. Throws: pybind11::error_already_set.
pybind11::object new_start_response(pybind11::handle type, std::size_t max_written);

/// The status and headers the application gave (null before its call). Borrowed.
/// Requires: GIL held; `start_response` made by new_start_response.
pybind11::handle start_response_status(pybind11::handle start_response) noexcept;
pybind11::handle start_response_headers(pybind11::handle start_response) noexcept;

/// From now on a call with exc_info re-raises it: the head has gone out.
void mark_start_response_sent(pybind11::handle start_response) noexcept;

/// What write() took since the last look (a list of bytes), handed over; None when nothing.
pybind11::object take_written_list(pybind11::handle start_response) noexcept;

} // namespace httpy::detail
