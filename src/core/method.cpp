#include "httpy/method.hpp"

#include <array>
#include <cstddef>

namespace httpy {
namespace {

// Indexed by the enum's value, so the table and the enum must keep the same order.
constexpr std::array<std::string_view, 9> method_names = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"};

static_assert(static_cast<std::size_t>(method::trace) + 1 == method_names.size());

} // namespace

std::optional<method> parse_method(std::string_view name) noexcept {
    for (std::size_t i = 0; i < method_names.size(); ++i)
        if (method_names[i] == name)
            return static_cast<method>(i);
    return std::nullopt;
}

std::string_view to_string(method m) noexcept {
    auto index = static_cast<std::size_t>(m);
    return index < method_names.size() ? method_names[index] : std::string_view("UNKNOWN");
}

} // namespace httpy
