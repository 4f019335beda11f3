#pragma once

#include "httpy/response.hpp"

#include <string>

namespace httpy::detail {

/// The status line and headers of `r` as sent: the handler's headers (but Content-Length,
/// Transfer-Encoding and Connection, which are the server's), `Date` and `Server` unless the
/// handler set them, `Content-Length` for every status that has a body (also for HEAD), and
/// `Connection` as `keep_alive` and `version` (10 or 11) require. Ends with the blank line.
/// The response's header names and values are already checked (no CR, LF or NUL).
std::string response_head(const response& r, unsigned version, bool keep_alive);

/// True when a response with `status` carries no body (1xx, 204, 304).
bool bodyless_status(int status) noexcept;

} // namespace httpy::detail
