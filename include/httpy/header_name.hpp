#pragma once

#include <string>
#include <string_view>

namespace httpy {

/// Go's canonical form of a header name (`textproto.CanonicalMIMEHeaderKey`): the first letter
/// and every letter after a hyphen upper-case, the rest lower-case (`x-sleep` -> `X-Sleep`).
/// A name holding a character that is not a token character is returned unchanged, as Go does.
std::string canonical_header_name(std::string_view name);

/// True when `c` is an RFC 9110 `tchar`, a character allowed in a token.
bool is_token_char(char c) noexcept;

/// True when `name` is a non-empty HTTP token (RFC 9110 `tchar`s only).
bool is_header_token(std::string_view name) noexcept;

/// `value` without the optional whitespace (RFC 9110 `OWS`: spaces and tabs) at either end.
std::string_view trim_whitespace(std::string_view value) noexcept;

/// True when `value` contains CR, LF or NUL, which would let it inject headers.
bool has_forbidden_header_chars(std::string_view value) noexcept;

} // namespace httpy
