#include "server/http_date.hpp"

#include <ctime>

namespace httpy::detail {

std::string_view http_date() {
    thread_local std::time_t formatted_at = 0;
    thread_local char text[32];
    thread_local std::size_t length = 0;
    const std::time_t now = std::time(nullptr);
    if (now != formatted_at) {
        std::tm utc{};
        gmtime_r(&now, &utc);
        length = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
        formatted_at = now;
    }
    return {text, length};
}

} // namespace httpy::detail
