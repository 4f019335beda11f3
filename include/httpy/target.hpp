#pragma once

#include "httpy/fields.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace httpy {

/// Decodes `%XX` escapes in a path the way Go's `url.PathUnescape` does ('+' stays '+').
/// nullopt on a malformed escape (`%` not followed by two hex digits) and, unlike Go, on an
/// escape that decodes to NUL (`%00`): a NUL in a path is a classic truncation attack.
std::optional<std::string> percent_decode_path(std::string_view path);

/// The query parameters a query string holds: its non-empty '&'-separated pairs (what
/// `parse_query` counts against its limit).
std::size_t count_query_params(std::string_view query) noexcept;

/// Parses a query string the way Go's `url.ParseQuery` does: pairs split on '&', key and value
/// split on the first '=', '+' is a space, percent-escapes decoded, a repeated key collects
/// every value in order, a key with no '=' gets "", empty pairs are skipped. nullopt when an
/// escape is malformed, a pair contains ';' (Go rejects those since 1.17), or there are more
/// than `max_params` pairs (the server's `--max-query-params`; 1000 by default, as Django's
/// DATA_UPLOAD_MAX_NUMBER_FIELDS and PHP's max_input_vars).
std::optional<fields> parse_query(std::string_view query, std::size_t max_params = 1000);

/// The origin-form part of a request target: an absolute-form target (`http://host/p?q`, which
/// RFC 9112 3.2.2 requires servers to accept) without its scheme and authority, `/` when it has
/// no path; any other target unchanged.
std::string origin_form(std::string_view target);

/// A request target split into its decoded path and parsed query.
struct parsed_target {
    std::string path;
    fields query;
};

/// Splits an origin-form target (`/path?query`) at the first '?' and decodes both parts
/// (`percent_decode_path`, `parse_query`). nullopt when the target does not start with '/'
/// (so `*` and absolute-form targets are refused), contains a control byte (below 0x20, or
/// 0x7f), a space or a '#' (a fragment is never part of a request target), holds a malformed
/// escape, or its path decodes to a NUL, or its query has more than `max_query_params` pairs. A
/// `%00` in the query is kept, as Go keeps it.
std::optional<parsed_target> parse_target(std::string_view target,
                                          std::size_t max_query_params = 1000);

} // namespace httpy
