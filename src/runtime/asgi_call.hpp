#pragma once

// One HTTP request through an ASGI 3 application. Not a public header.

#include <pybind11/pytypes.h>

#include "httpy/request.hpp"
#include "runtime/executor_state.hpp"
#include "runtime/python_call.hpp"

#include <cstddef>
#include <memory>
#include <string>

namespace httpy::detail {

/// What every request of one ASGI application shares. The Python references are the
/// executor's (see executor::state::keep).
struct asgi_app_info {
    pybind11::handle application; // ASGI 3 (an ASGI 2 one wrapped)
    std::string name;             // e.g. "fastapi_app:app", in log lines
    pybind11::handle constant_scope;
    pybind11::handle state;       // the lifespan's state, copied into every scope; null: none
    pybind11::handle exchange_type;
    pybind11::handle loop;        // the executor's asyncio event loop
    pybind11::handle log;         // log(method, path, text): an error line naming the app
    double cancel_after = 0;      // seconds; see asgi_support::exchange_type
    std::size_t max_response_bytes = 0;
};

/// Makes the call for `req`. Its run builds the scope and hands the event loop the
/// application's run; the call is answered by the application's first `http.response.body`
/// (or `http.response.pathsend`): the head with that body, the file, or a stream of the
/// rest, which the server pulls from the application's later `send()`s.
/// `pool` is the executor the call is submitted to (where a stream is kept).
call_ptr make_asgi_call(std::shared_ptr<const asgi_app_info> info, executor::state& pool,
                        request req, call_completion done);

} // namespace httpy::detail
