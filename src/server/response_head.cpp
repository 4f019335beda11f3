#include "server/response_head.hpp"

#include "httpy/status.hpp"
#include "server/http_date.hpp"

#include <boost/beast/core/string.hpp>

#include <charconv>

namespace httpy::detail {

namespace {

bool server_owned(std::string_view name) {
    using boost::beast::iequals;
    return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
           iequals(name, "Connection");
}

void append_number(std::string& out, std::uint64_t value) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    out.append(digits, end);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
}

} // namespace

bool bodyless_status(int status) noexcept { return status < 200 || status == 204 || status == 304; }

std::string response_head(const response& r, unsigned version, bool keep_alive) {
    return response_head(r, version, keep_alive, {body_framing::content_length, r.body.size()});
}

std::string response_head(const response& r, unsigned version, bool keep_alive,
                          body_framing framing) {
    std::string out;
    out.reserve(192);
    out.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    append_number(out, static_cast<std::uint64_t>(r.status));
    out.append(" ").append(reason_phrase(r.status)).append("\r\n");
    bool has_date = false, has_server = false;
    for (const auto& [name, values] : r.headers) {
        if (server_owned(name))
            continue;
        has_date = has_date || boost::beast::iequals(name, "Date");
        has_server = has_server || boost::beast::iequals(name, "Server");
        for (const auto& value : values)
            append_field(out, name, value);
    }
    if (!has_date)
        append_field(out, "Date", http_date());
    if (!has_server)
        append_field(out, "Server", "httpy");
    if (!bodyless_status(r.status)) {
        if (framing.kind == body_framing::content_length) {
            out.append("Content-Length: ");
            append_number(out, framing.length);
            out.append("\r\n");
        } else if (framing.kind == body_framing::chunked) {
            append_field(out, "Transfer-Encoding", "chunked");
        }
    }
    if (version == 10 && keep_alive)
        append_field(out, "Connection", "keep-alive");
    else if (version != 10 && !keep_alive)
        append_field(out, "Connection", "close");
    out.append("\r\n");
    return out;
}

} // namespace httpy::detail
