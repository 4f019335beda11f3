#pragma once

#include "httpy/app.hpp"

#include <string_view>

namespace httpy::detail {

/// The application the commands' HANDLER and `--init` name: `handler` as
/// `FILE.py[:FUNCTION]` or `MODULE[:FUNCTION]` (default `go_request`); `init` as
/// `MODULE:FUNCTION`, or empty for the handler module's `go_init` when it has one; none at all
/// with `no_init`. The executor options are left at their defaults.
/// Requires: an interpreter exists (the default looks into the handler module, see
/// `has_python_function`).
/// Throws: config_error for a malformed HANDLER or `--init`, or a handler module that cannot
/// be imported.
app_options app_spec(std::string_view handler, std::string_view init, bool no_init = false);

} // namespace httpy::detail
