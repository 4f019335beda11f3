#include "server/access_log_format.hpp"

#include "httpy/config_error.hpp"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <iterator>
#include <optional>
#include <utility>

namespace httpy::detail {

namespace {

using field = access_log_field;

constexpr std::string_view common_template =
    R"({client} - - [{time}] "{method} {target} HTTP/{version}" {status} {response_bytes_clf} )"
    R"({duration})";
constexpr std::string_view combined_template =
    R"({client} - - [{time}] "{method} {target} HTTP/{version}" {status} {response_bytes_clf} )"
    R"("{referer}" "{user_agent}" {duration} {request_id})";
constexpr std::string_view json_template =
    R"({{"time":{time_iso},"client":{client},"client_port":{client_port},"method":{method},)"
    R"("target":{target},"version":{version},"status":{status},"request_bytes":{request_bytes},)"
    R"("response_bytes":{response_bytes},"duration_s":{duration},"route":{route},)"
    R"("request_id":{request_id},"referer":{referer},"user_agent":{user_agent}}})";

struct named_field {
    std::string_view name;
    field value;
};

constexpr std::array<named_field, 18> placeholders = {{
    {"client", field::client},
    {"client_port", field::client_port},
    {"method", field::method},
    {"target", field::target},
    {"version", field::version},
    {"status", field::status},
    {"request_bytes", field::request_bytes},
    {"response_bytes", field::response_bytes},
    {"response_bytes_clf", field::response_bytes_clf},
    {"duration", field::duration},
    {"duration_ms", field::duration_ms},
    {"duration_us", field::duration_us},
    {"route", field::route},
    {"request_id", field::request_id},
    {"referer", field::referer},
    {"user_agent", field::user_agent},
    {"time", field::time},
    {"time_iso", field::time_iso},
}};

constexpr std::array<std::string_view, 12> month_names = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

[[noreturn]] void refuse(std::string_view spec, std::string_view why) {
    std::string names;
    for (const named_field& p : placeholders)
        fmt::format_to(std::back_inserter(names), "{}{{{}}}", names.empty() ? "" : ", ", p.name);
    throw config_error(fmt::format("--access-log-format \"{}\": {}; the placeholders are {}",
                                   spec, why, names));
}

std::optional<std::string_view> named_template(std::string_view spec) {
    if (spec == "common")
        return common_template;
    if (spec == "combined")
        return combined_template;
    if (spec == "json")
        return json_template;
    return std::nullopt;
}

field field_named(std::string_view name, std::string_view spec) {
    for (const named_field& p : placeholders)
        if (p.name == name)
            return p.value;
    refuse(spec, fmt::format("unknown placeholder {{{}}}", name));
}

template <typename Integer>
void append_integer(Integer value, std::string& out) {
    const fmt::format_int digits(value);
    out.append(digits.data(), digits.size());
}

// The escapes nginx writes in its text logs: whatever could end, split or forge a line, or
// drive a terminal, becomes visible hex.
bool needs_text_escape(unsigned char byte) {
    return byte < 0x20 || byte >= 0x7f || byte == '"' || byte == '\\';
}

void append_text(std::string_view s, std::string& out) {
    if (s.empty()) {
        out.push_back('-');
        return;
    }
    constexpr std::string_view hex = "0123456789ABCDEF";
    std::size_t run = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto byte = static_cast<unsigned char>(s[i]);
        if (!needs_text_escape(byte))
            continue;
        out.append(s.substr(run, i - run));
        const char escape[] = {'\\', 'x', hex[byte >> 4], hex[byte & 0xf]};
        out.append(escape, sizeof escape);
        run = i + 1;
    }
    out.append(s.substr(run));
}

// The length of the valid UTF-8 sequence (RFC 3629: no overlong form, no surrogate, nothing
// above U+10FFFF) that starts `s`, whose first byte is 0x80 or above; 0 when there is none.
std::size_t utf8_sequence_length(std::string_view s) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char lead = byte(0);
    const std::size_t length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    // The range of the second byte is where overlong forms, surrogates and values past
    // U+10FFFF are told apart.
    const unsigned char low = lead == 0xe0 ? 0xa0 : lead == 0xf0 ? 0x90 : 0x80;
    const unsigned char high = lead == 0xed ? 0x9f : lead == 0xf4 ? 0x8f : 0xbf;
    if (lead < 0xc2 || lead > 0xf4 || s.size() < length || byte(1) < low || byte(1) > high)
        return 0;
    for (std::size_t i = 2; i < length; ++i)
        if ((byte(i) & 0xc0) != 0x80)
            return 0;
    return length;
}

void append_json_escape(unsigned char byte, std::string& out) {
    switch (byte) {
    case '"': out.append("\\\""); return;
    case '\\': out.append("\\\\"); return;
    case '\n': out.append("\\n"); return;
    case '\r': out.append("\\r"); return;
    case '\t': out.append("\\t"); return;
    case '\b': out.append("\\b"); return;
    case '\f': out.append("\\f"); return;
    default: break;
    }
    constexpr std::string_view hex = "0123456789abcdef";
    const char escape[] = {'\\', 'u', '0', '0', hex[byte >> 4], hex[byte & 0xf]};
    out.append(escape, sizeof escape);
}

void append_json_string(std::string_view s, std::string& out) {
    if (s.empty()) {
        out.append("null");
        return;
    }
    out.push_back('"');
    std::size_t run = 0;
    for (std::size_t i = 0; i < s.size();) {
        const auto byte = static_cast<unsigned char>(s[i]);
        const bool plain = byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\';
        const std::size_t keep = plain ? 1 : byte >= 0x80 ? utf8_sequence_length(s.substr(i)) : 0;
        if (keep != 0) {
            i += keep;
            continue;
        }
        out.append(s.substr(run, i - run));
        append_json_escape(byte, out);
        run = ++i;
    }
    out.append(s.substr(run));
    out.push_back('"');
}

void append_string(std::string_view s, bool json, std::string& out) {
    if (json)
        append_json_string(s, out);
    else
        append_text(s, out);
}

// `value`, or "-" (`null` in JSON) when it is 0, meaning unknown or none.
void append_integer_or_none(std::uint64_t value, bool json, std::string& out) {
    if (value != 0)
        append_integer(value, out);
    else
        out.append(json ? "null" : "-");
}

std::uint64_t whole_microseconds(std::chrono::nanoseconds d) {
    return d.count() <= 0 ? 0 : (static_cast<std::uint64_t>(d.count()) + 500) / 1000;
}

// `us` microseconds in seconds (6 decimals) or milliseconds (3): integer arithmetic rather than
// a double, so that every decimal shown is exact.
void append_duration(std::uint64_t us, int decimals, std::string& out) {
    const std::uint64_t per_unit = decimals == 6 ? 1'000'000 : 1'000;
    fmt::format_to(std::back_inserter(out), "{}.{:0{}}", us / per_unit, us % per_unit, decimals);
}

void append_time(std::chrono::system_clock::time_point t, bool iso, bool json, std::string& out) {
    using namespace std::chrono;
    const auto ms = floor<milliseconds>(t);
    const auto day = floor<days>(ms);
    const year_month_day date(day);
    const hh_mm_ss time(ms - day);
    const auto year = static_cast<int>(date.year());
    const auto month = static_cast<unsigned>(date.month());
    const auto d = static_cast<unsigned>(date.day());
    const auto h = time.hours().count();
    const auto m = time.minutes().count();
    const auto s = time.seconds().count();
    auto it = std::back_inserter(out);
    if (json)
        out.push_back('"');
    if (iso)
        fmt::format_to(it, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", year, month, d, h, m, s,
                       time.subseconds().count());
    else
        fmt::format_to(it, "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000", d, month_names[month - 1],
                       year, h, m, s);
    if (json)
        out.push_back('"');
}

void append_version(unsigned version, bool json, std::string& out) {
    const char text[] = {'"', static_cast<char>('0' + version / 10 % 10), '.',
                         static_cast<char>('0' + version % 10), '"'};
    out.append(json ? text : text + 1, json ? 5 : 3);
}

void append_field(field f, const exchange_record& r, bool json, std::string& out) {
    switch (f) {
    case field::literal: break;
    case field::client: append_string(r.client_address, json, out); break;
    case field::client_port: append_integer_or_none(r.client_port, json, out); break;
    case field::method: append_string(r.method, json, out); break;
    case field::target: append_string(r.target, json, out); break;
    case field::version: append_version(r.version, json, out); break;
    case field::status: append_integer(r.status, out); break;
    case field::request_bytes: append_integer(r.request_body_bytes, out); break;
    case field::response_bytes: append_integer(r.response_body_bytes, out); break;
    case field::response_bytes_clf: append_integer_or_none(r.response_body_bytes, json, out); break;
    case field::duration: append_duration(whole_microseconds(r.duration), 6, out); break;
    case field::duration_ms: append_duration(whole_microseconds(r.duration), 3, out); break;
    case field::duration_us: append_integer(whole_microseconds(r.duration), out); break;
    case field::route: append_string(r.route, json, out); break;
    case field::request_id: append_string(r.request_id, json, out); break;
    case field::referer: append_string(r.referer, json, out); break;
    case field::user_agent: append_string(r.user_agent, json, out); break;
    case field::time: append_time(r.received, false, json, out); break;
    case field::time_iso: append_time(r.received, true, json, out); break;
    }
}

} // namespace

access_log_format::access_log_format(std::string_view spec) : json_(spec == "json") {
    parse(named_template(spec).value_or(spec));
    for (const piece& p : pieces_)
        if (p.field != field::literal)
            return;
    refuse(spec, "neither common, combined nor json, and no {placeholder} in it");
}

void access_log_format::parse(std::string_view spec) {
    std::string text;
    for (std::size_t i = 0; i < spec.size(); ++i) {
        const char c = spec[i];
        if ((c == '{' || c == '}') && i + 1 < spec.size() && spec[i + 1] == c) {
            text += spec[i++];
            continue;
        }
        if (c == '}')
            refuse(spec, "a lone '}' (write '}}' for a literal one)");
        if (c != '{') {
            text += c;
            continue;
        }
        const std::size_t end = spec.find('}', i);
        if (end == std::string_view::npos)
            refuse(spec, "a '{' with no closing '}' (write '{{' for a literal one)");
        const field f = field_named(spec.substr(i + 1, end - i - 1), spec);
        if (!text.empty())
            pieces_.push_back({field::literal, std::exchange(text, {})});
        pieces_.push_back({f, {}});
        i = end;
    }
    if (!text.empty())
        pieces_.push_back({field::literal, std::move(text)});
}

void access_log_format::append(const exchange_record& r, std::string& out) const {
    for (const piece& p : pieces_) {
        if (p.field == field::literal)
            out.append(p.text);
        else
            append_field(p.field, r, json_, out);
    }
    out.push_back('\n');
}

} // namespace httpy::detail
