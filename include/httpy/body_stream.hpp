#pragma once

#include "httpy/call_result.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

namespace httpy {

/// The completion of one `body_stream::async_next`.
using chunk_completion = boost::asio::any_completion_handler<call_signature>;

/// A response body that is produced while it is sent (a Python iterator or generator): the
/// server pulls it one chunk at a time and asks for the next only once the previous one has
/// been written, so a slow client holds at most one chunk in memory, never a thread.
///
/// Dropping the stream before its end (the client went away, a write failed or timed out)
/// closes its source: a WSGI iterable's `close()` runs then, exactly once.
class body_stream {
public:
    virtual ~body_stream() = default;

    /// Asks for the next chunk; completes `token` with a `call_result` whose `resp.body` is the
    /// chunk, never empty, or empty at the end of the body; `error` is set when the source
    /// failed, timed out or was cancelled (the body is then cut: close the connection). The
    /// completion's cancellation slot is honoured as `app::async_request`'s is.
    /// Requires: the previous call has completed.
    template <class CompletionToken>
    auto async_next(CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, call_signature>(
            [this](auto done) { next(chunk_completion(std::move(done))); }, token);
    }

protected:
    /// Completes `done` as `async_next` says, on its associated executor, never inside this call.
    virtual void next(chunk_completion done) = 0;
};

} // namespace httpy
