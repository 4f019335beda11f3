#pragma once

// A response whose body is all there, against the Content-Length its application set. Not a
// public header.

#include "httpy/response.hpp"

#include <string>

namespace httpy::detail {

/// `r` as it is sent: a Content-Length of the application's that differs from the body's
/// length is logged (naming `description`) and a longer body cut to it (a shorter one then
/// closes the connection, see response_writer). A HEAD answer without a body keeps its
/// Content-Length: it is the GET's (RFC 9110 8.6).
response whole_body(response r, bool head_request, const std::string& description);

} // namespace httpy::detail
