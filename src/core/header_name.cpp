#include "httpy/header_name.hpp"

#include <array>

namespace httpy {

namespace {

// RFC 9110 `tchar`, which is also Go's validHeaderFieldByte table.
constexpr std::array<bool, 256> make_token_table() {
    std::array<bool, 256> table{};
    for (unsigned char c = '0'; c <= '9'; ++c)
        table[c] = true;
    for (unsigned char c = 'a'; c <= 'z'; ++c)
        table[c] = true;
    for (unsigned char c = 'A'; c <= 'Z'; ++c)
        table[c] = true;
    for (unsigned char c : std::string_view("!#$%&'*+-.^_`|~"))
        table[c] = true;
    return table;
}

constexpr std::array<bool, 256> token_table = make_token_table();

constexpr char to_upper(char c) noexcept { return c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c; }

constexpr char to_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

} // namespace

bool is_token_char(char c) noexcept { return token_table[static_cast<unsigned char>(c)]; }

std::string canonical_header_name(std::string_view name) {
    std::string result(name);
    // Go leaves anything that is not a token unchanged (a space included, see go.dev/issue/34540).
    if (!is_header_token(name))
        return result;
    bool upper = true;
    for (char& c : result) {
        c = upper ? to_upper(c) : to_lower(c);
        upper = c == '-';
    }
    return result;
}

bool is_header_token(std::string_view name) noexcept {
    if (name.empty())
        return false;
    for (char c : name)
        if (!is_token_char(c))
            return false;
    return true;
}

std::string_view trim_whitespace(std::string_view value) noexcept {
    const auto first = value.find_first_not_of(" \t");
    if (first == std::string_view::npos)
        return {};
    return value.substr(first, value.find_last_not_of(" \t") - first + 1);
}

bool has_forbidden_header_chars(std::string_view value) noexcept {
    return value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

} // namespace httpy
