#pragma once

#include "httpy/request.hpp"
#include "httpy/response.hpp"

#include <functional>
#include <variant>

namespace httpy {

class app;

/// A C++ handler, called on the connection's thread; it must not block.
using native_handler = std::function<response(const request&)>;

/// A route answered by the Python application's request handler.
struct python_handler {
    app* application = nullptr;

    friend bool operator==(const python_handler&, const python_handler&) = default;
};

/// What a matched route runs.
using route_handler = std::variant<native_handler, python_handler>;

} // namespace httpy
