#pragma once

#include "httpy/method.hpp"
#include "httpy/response.hpp"

#include <string_view>
#include <vector>

namespace httpy {

/// The standard reason phrase of `status` ("Not Found"), or "Unknown".
std::string_view reason_phrase(int status) noexcept;

/// A plain-text response carrying `status` and its reason phrase, e.g. "404 Not Found".
response status_response(int status);

/// 405 with an `Allow` header listing `allowed`.
response method_not_allowed(const std::vector<method>& allowed);

} // namespace httpy
