#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <string_view>

namespace httpy::detail {

/// The size of an HTTP date such as `Sun, 06 Nov 1994 08:49:37 GMT`.
inline constexpr std::size_t http_date_size = 29;

/// Writes `t` into `out` as an HTTP date (IMF-fixdate, RFC 9110 5.6.7), e.g.
/// `Sun, 06 Nov 1994 08:49:37 GMT`, with the English day and month names the RFC fixes whatever
/// the C or C++ locale is; returns `out` as a view. Requires: `t` in the years 0000 to 9999.
std::string_view format_http_date(std::chrono::sys_seconds t,
                                  std::array<char, http_date_size>& out) noexcept;

/// The current time as an HTTP date (see `format_http_date`), formatted at most once a second
/// per thread. The view stays valid until the thread's next call.
std::string_view http_date();

} // namespace httpy::detail
