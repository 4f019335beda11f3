#pragma once

#include "httpy/call_result.hpp"
#include "httpy/request.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <functional>
#include <utility>

namespace httpy {

/// The completion of one call: a type-erased Asio completion handler, carrying the caller's
/// associated executor, allocator and cancellation slot to whoever answers the call.
using call_completion = boost::asio::any_completion_handler<call_signature>;

/// A route handler that answers asynchronously: called with the request and a completion that
/// it completes exactly once, on the completion's associated executor (never inside the call
/// itself), with a `call_result`. `app::handler()` makes one that sends requests to a Python
/// application. It must not block the calling thread.
using async_handler = std::function<void(request, call_completion)>;

/// Calls `handler` with `req` and completes `token` with its `call_result`, following Asio's
/// conventions: `co_await async_call(h, std::move(req), use_awaitable)` yields the
/// `call_result`, `use_future` gives a `std::future<call_result>`, a callback gets it. The
/// handler sees the completion's cancellation slot (`bind_cancellation_slot`, `||`).
///
/// Requires: `handler` outlives the operation (with a deferred token such as `use_awaitable`,
/// until it has been awaited); it points into the router that matched it, which outlives it.
template <class CompletionToken>
auto async_call(const async_handler& handler, request req, CompletionToken&& token) {
    // The request travels inside the initiation, which every token stores by value.
    return boost::asio::async_initiate<CompletionToken, call_signature>(
        [&handler, r = std::move(req)](auto done) mutable {
            handler(std::move(r), call_completion(std::move(done)));
        },
        token);
}

} // namespace httpy
