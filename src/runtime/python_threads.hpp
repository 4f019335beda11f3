#pragma once

// Threads that may still run Python but are no longer joined. Not a public header.

#include <cstddef>

namespace httpy::detail {

/// Counts a thread left running instead of joined (an event loop that a handler kept blocked at
/// shutdown). While any is counted, `interpreter` does not finalise Python: finalising would wait
/// for a GIL that thread may hold for ever, or end it in the middle of a call.
void python_thread_left() noexcept;

/// Uncounts a left thread once it has finished and dropped its Python thread state.
void python_thread_ended() noexcept;

/// Left threads still running.
std::size_t python_threads_left() noexcept;

} // namespace httpy::detail
