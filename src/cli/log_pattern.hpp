#pragma once

#include <string>
#include <string_view>

namespace httpy::cli {

/// The log line format of the `httpy` command (spdlog pattern): time, level, `prefix`, message.
inline std::string log_pattern(std::string_view prefix = {}) {
    return "%Y-%m-%dT%H:%M:%S.%e %^%l%$ " + std::string(prefix) + "%v";
}

} // namespace httpy::cli
