#pragma once

#include <string_view>

namespace httpy::detail {

/// The current time as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`), formatted at most once a
/// second per thread. The view stays valid until the thread's next call.
std::string_view http_date();

} // namespace httpy::detail
