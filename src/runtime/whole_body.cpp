#include "runtime/whole_body.hpp"

#include "core/declared_length.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace httpy::detail {

response whole_body(response r, bool head_request, const std::string& description) {
    if (head_request && r.body.empty())
        return r;
    if (const auto length = declared_length(r); length && r.body.size() != *length) {
        spdlog::warn("{}: the response body has {} bytes but its Content-Length says {}; "
                     "sent with {} bytes",
                     description, r.body.size(), *length,
                     std::min<std::uint64_t>(*length, r.body.size()));
        if (*length < r.body.size())
            r.body.resize(static_cast<std::size_t>(*length));
    }
    return r;
}

} // namespace httpy::detail
