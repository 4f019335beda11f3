#pragma once

#include "httpy/async_handler.hpp"
#include "httpy/request.hpp"
#include "httpy/response.hpp"

#include <functional>
#include <variant>

namespace httpy {

/// A C++ handler, called on the connection's thread; it must not block.
using native_handler = std::function<response(const request&)>;

/// What a matched route runs: a native handler, answered inline, or an asynchronous one (a
/// Python application's, `app::handler()`), whose call completes with a `call_result`.
using route_handler = std::variant<native_handler, async_handler>;

} // namespace httpy
