#pragma once

// Not a public header: shared by the server (framing a streamed body) and the runtime (a WSGI
// body that has reached the length it announced).

#include "httpy/response.hpp"

#include <cstdint>
#include <optional>

namespace httpy::detail {

/// The handler's own `Content-Length` header (any case), when it has exactly one that is a
/// decimal number; nullopt otherwise.
std::optional<std::uint64_t> declared_length(const response& r) noexcept;

} // namespace httpy::detail
