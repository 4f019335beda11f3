#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace httpy {

/// Why a call into Python did not produce the handler's own response. The call still completes
/// with a response to send (500, 503 or 504); the precise cause is logged.
enum class call_error {
    /// The handler raised, or returned a value of the wrong shape or type (500).
    handler_failed = 1,
    /// The handler ran past its timeout; TimeoutError was raised inside it (504).
    timed_out,
    /// The executor's queue was full (503).
    overloaded,
    /// The executor was stopping and took no more calls (503).
    stopped,
};

/// The error category of `call_error`.
const boost::system::error_category& call_category() noexcept;

inline boost::system::error_code make_error_code(call_error e) noexcept {
    return {static_cast<int>(e), call_category()};
}

/// The status that answers `e`: 500, 504 or 503.
int status_of(call_error e) noexcept;

} // namespace httpy

template <>
struct boost::system::is_error_code_enum<httpy::call_error> : std::true_type {};
