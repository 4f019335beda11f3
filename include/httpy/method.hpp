#pragma once

#include <optional>
#include <string_view>

namespace httpy {

/// The HTTP methods a route can accept.
enum class method { get, head, post, put, patch, delete_, options, connect, trace };

/// The method named exactly `name` (upper-case, as on the wire), or nullopt.
std::optional<method> parse_method(std::string_view name) noexcept;

/// The wire name of `m`, e.g. "GET".
std::string_view to_string(method m) noexcept;

} // namespace httpy
