#pragma once

// How `--interface auto` tells the go contract, WSGI and ASGI apart. Not a public header.

#include <pybind11/pytypes.h>

#include "httpy/app.hpp"

#include <optional>

namespace httpy::detail {

/// The interface `target` speaks: its signature decides (six positional parameters: go; two,
/// not a coroutine function: WSGI; three, a coroutine function or an object whose `__call__`
/// is one: ASGI), else the frameworks' known types (Flask, Django's handlers, Starlette,
/// FastAPI); nullopt when neither tells (`*args`, a C callable).
/// Requires: GIL held.
std::optional<app_interface> interface_of(pybind11::handle target);

} // namespace httpy::detail
