#pragma once

#include "httpy/response.hpp"

#include <boost/system/error_code.hpp>

namespace httpy {

/// How a call to an asynchronous handler (a Python application's) completed: always a response
/// to send, and why it is not the handler's own.
struct call_result {
    /// Empty when `resp` is the handler's own; else a `call_error` (`handler_failed` 500,
    /// `timed_out` 504, `overloaded` or `stopped` 503), or `boost::asio::error::operation_aborted`
    /// (503) for a call its caller cancelled.
    boost::system::error_code error;
    /// The response to send, whatever `error` says.
    response resp;
};

/// The signature every call completes with: one `call_result`, never an exception (so
/// `use_awaitable` yields a `call_result` and `use_future` gives a `std::future<call_result>`).
using call_signature = void(call_result);

} // namespace httpy
