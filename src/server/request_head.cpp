#include "server/request_head.hpp"

#include "server/request_error.hpp"

#include <boost/beast/http/error.hpp>

#include <string_view>

namespace httpy::detail {

namespace {

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

// True when head[from, end) holds an LF not after a CR, or a CR followed by anything but an LF
// (a CR that is the last byte received may still be followed by one).
bool has_bare_line_break(std::string_view head, std::size_t from, std::size_t end) noexcept {
    for (auto lf = head.find('\n', from); lf < end; lf = head.find('\n', lf + 1))
        if (lf == 0 || head[lf - 1] != '\r')
            return true;
    for (auto cr = head.find('\r', from); cr < end; cr = head.find('\r', cr + 1))
        if (cr + 1 < head.size() && head[cr + 1] != '\n')
            return true;
    return false;
}

// The version of a request line ("GET / HTTP/1.2"): rewrites a later HTTP/1 minor version to
// 1.1; refuses another major version. Anything else is left for the parser to judge.
boost::system::error_code screen_version(std::span<char> line) noexcept {
    const std::string_view text(line.data(), line.size());
    const auto space = text.rfind(' ');
    if (space == std::string_view::npos)
        return {};
    const auto version = line.subspan(space + 1);
    const std::string_view v(version.data(), version.size());
    if (v.size() != 8 || !v.starts_with("HTTP/") || !is_digit(v[5]) || v[6] != '.' ||
        !is_digit(v[7]))
        return {};
    if (v[5] != '1')
        return request_error::unsupported_version;
    if (v[7] > '1')
        version[7] = '1';
    return {};
}

} // namespace

head_screen screen_request_head(std::span<char> received, std::size_t limit,
                                std::size_t searched) noexcept {
    head_screen out;
    const std::string_view all(received.data(), received.size());
    while (all.substr(out.skip, 2) == "\r\n")
        out.skip += 2;
    const std::string_view head = all.substr(out.skip);
    // The terminator may straddle the old end: search again from 3 bytes before it.
    const std::size_t from = searched > out.skip + 3 ? searched - out.skip - 3 : 0;
    const auto end = head.find("\r\n\r\n", from);
    out.searched = all.size();
    const std::size_t size = end == std::string_view::npos ? head.size() : end + 4;
    // A bare LF or CR: refused now rather than waiting for a CRLF CRLF that may never come.
    if (has_bare_line_break(head, from, size)) {
        out.ec = boost::beast::http::error::bad_line_ending;
        return out;
    }
    if (size > limit) {
        out.ec = boost::beast::http::error::header_limit;
        return out;
    }
    if (end == std::string_view::npos)
        return out;
    // A line that starts with a space or tab continues the one before it: obs-fold.
    for (auto eol = head.find("\r\n"); eol < end; eol = head.find("\r\n", eol + 2)) {
        const char next = head[eol + 2];
        if (next == ' ' || next == '\t') {
            out.ec = request_error::obs_fold;
            return out;
        }
    }
    const auto line_end = head.find("\r\n");
    out.ec = screen_version(received.subspan(out.skip, line_end));
    if (!out.ec)
        out.size = size;
    return out;
}

} // namespace httpy::detail
