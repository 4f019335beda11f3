#include "core/declared_length.hpp"

#include <boost/beast/core/string.hpp>

#include <charconv>
#include <string_view>

namespace httpy::detail {

std::optional<std::uint64_t> declared_length(const response& r) noexcept {
    for (const auto& [name, values] : r.headers) {
        if (!boost::beast::iequals(name, "Content-Length") || values.size() != 1)
            continue;
        const std::string_view v = values.front();
        std::uint64_t n = 0;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec == std::errc() && end == v.data() + v.size() && !v.empty())
            return n;
    }
    return std::nullopt;
}

} // namespace httpy::detail
