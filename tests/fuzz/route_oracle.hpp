#pragma once

#include "httpy/fields.hpp"
#include "httpy/method.hpp"
#include "httpy/route_table.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace httpy::fuzz {

/// What routing a path must give, worked out the slow way, for the fuzz target to compare the
/// router's trie with.
struct expected_route {
    /// 200, 404 or 405, as `route_match::status`.
    int status = 404;
    /// The pattern that wins (200 only).
    std::string pattern;
    /// Its captured parameters in pattern order (200 only).
    fields params;
    /// The methods of every pattern the path matches, HEAD included with GET (405 only).
    std::vector<method> allowed;
};

/// Matches `path` against every pattern of `table` on its own, and picks among those that
/// accept `method_name` the most specific one: compared segment by segment, a static segment
/// before a `:param` before a `*catch_all`, as SPEC.md's httprouter rules say.
expected_route expect_route(const route_table& table, std::string_view method_name,
                            std::string_view path);

} // namespace httpy::fuzz
