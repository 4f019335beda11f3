#include "httpy/target.hpp"

#include "core/hex_digit.hpp"

#include <algorithm>
#include <utility>

namespace httpy {
namespace {

enum class mode { path, query };

// True when `unescape` would change `in`: it has a '%' escape, or a '+' in a query.
bool has_escapes(std::string_view in, mode m) noexcept {
    return in.find_first_of(m == mode::query ? "%+" : "%") != std::string_view::npos;
}

// Go's url.unescape for encodePathSegment / encodeQueryComponent, plus the NUL refusal for paths.
std::optional<std::string> unescape(std::string_view in, mode m) {
    if (!has_escapes(in, m))
        return std::string(in);
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '+' && m == mode::query) {
            out.push_back(' ');
            continue;
        }
        if (c != '%') {
            out.push_back(c);
            continue;
        }
        if (in.size() - i < 3)
            return std::nullopt;
        int hi = detail::hex_digit_value(in[i + 1]);
        int lo = detail::hex_digit_value(in[i + 2]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        auto byte = static_cast<char>(hi * 16 + lo);
        if (byte == '\0' && m == mode::path)
            return std::nullopt;
        out.push_back(byte);
        i += 2;
    }
    return out;
}

// Space and '#' are not control bytes but can never appear in a valid origin-form target.
bool forbidden_in_target(char c) noexcept {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f || c == '#';
}

} // namespace

std::optional<std::string> percent_decode_path(std::string_view path) {
    return unescape(path, mode::path);
}

std::size_t count_query_params(std::string_view query) noexcept {
    std::size_t count = 0;
    for (std::size_t start = 0; start <= query.size();) {
        const auto amp = std::min(query.find('&', start), query.size());
        count += amp > start ? 1 : 0;
        start = amp + 1;
    }
    return count;
}

std::optional<fields> parse_query(std::string_view query, std::size_t max_params) {
    const auto pieces = static_cast<std::size_t>(std::count(query.begin(), query.end(), '&')) + 1;
    fields result;
    result.reserve(std::min(pieces, max_params));
    std::size_t params = 0;
    while (!query.empty()) {
        auto amp = query.find('&');
        auto piece = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (piece.empty())
            continue;
        if (++params > max_params)
            return std::nullopt;
        if (piece.find(';') != std::string_view::npos)
            return std::nullopt;
        auto eq = piece.find('=');
        const auto key = piece.substr(0, eq);
        const auto value = eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1);
        if (!has_escapes(piece, mode::query)) {
            result.add(key, value); // nothing to decode: no temporary strings
            continue;
        }
        auto decoded_key = unescape(key, mode::query);
        auto decoded_value = unescape(value, mode::query);
        if (!decoded_key || !decoded_value)
            return std::nullopt;
        result.add(std::move(*decoded_key), *decoded_value);
    }
    return result;
}

std::optional<parsed_target> parse_target(std::string_view target, std::size_t max_query_params) {
    if (target.empty() || target.front() != '/')
        return std::nullopt;
    for (char c : target)
        if (forbidden_in_target(c))
            return std::nullopt;
    auto question = target.find('?');
    auto path = percent_decode_path(target.substr(0, question));
    if (!path)
        return std::nullopt;
    auto query = parse_query(
        question == std::string_view::npos ? std::string_view{} : target.substr(question + 1),
        max_query_params);
    if (!query)
        return std::nullopt;
    return parsed_target{std::move(*path), std::move(*query)};
}

std::string origin_form(std::string_view target) {
    const auto scheme_end = target.find("://");
    if (target.empty() || target.front() == '/' || scheme_end == std::string_view::npos)
        return std::string(target);
    std::string scheme(target.substr(0, scheme_end));
    for (char& c : scheme)
        c = static_cast<char>(c | 0x20);
    if (scheme != "http" && scheme != "https")
        return std::string(target);
    const auto rest = target.substr(scheme_end + 3);
    const auto path = rest.find_first_of("/?");
    if (path == std::string_view::npos)
        return "/";
    return (rest[path] == '?' ? "/" : "") + std::string(rest.substr(path));
}

} // namespace httpy
