#pragma once

#include <pybind11/pytypes.h>

#include <string>

namespace httpy {
class executor;
}

namespace httpy::detail {

/// Makes `handler` the function `executor` calls for every request; `name` names it in log
/// lines and error messages (e.g. "go_request").
/// Requires: GIL held; called before the first call is submitted.
void set_request_handler(executor& ex, pybind11::object handler, std::string name);

} // namespace httpy::detail
