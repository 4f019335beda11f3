#pragma once

// The Python side of ASGI (the receive and send of one HTTP request, the lifespan protocol),
// made once per application. Not a public header.

#include <pybind11/pytypes.h>

namespace httpy::detail {

struct asgi_support {
    /// `Exchange(respond, body, spool, loop, cancel_after, log)`: one request's `receive`
    /// and `send`. `respond(status, headers, body, more_body, path)` is the call's: it
    /// answers the call with the head and the first body (or the file at `path`); `body` the
    /// request body as bytes, None when spooled; `spool` a binary file over the spooled body,
    /// else None; `cancel_after` the seconds after which a task whose response can no longer
    /// be delivered is cancelled (0: never); `log(text)` writes an error line.
    /// Methods: `run(app, scope)` (a coroutine: the application's whole run; raises what the
    /// application raised before responding), `next_chunk()` (a coroutine: the next part of a
    /// streamed body, None at its end; raises when the application failed half-way) and
    /// `close()` (the response cannot be delivered any more: any thread).
    pybind11::object exchange_type;
    /// `Lifespan(app, loop)`: the lifespan protocol; coroutines `startup(timeout)` ->
    /// (outcome, message, state) with outcome "complete", "failed", "unsupported" or
    /// "timeout", and `shutdown(timeout)` -> (outcome, message).
    pybind11::object lifespan_type;
    /// `as_asgi3(app)`: `app`, or an ASGI 3 wrapper of an ASGI 2 double-callable.
    pybind11::object as_asgi3;
};

/// Makes the objects. Requires: GIL held. Throws: pybind11::error_already_set.
asgi_support make_asgi_support();

} // namespace httpy::detail
