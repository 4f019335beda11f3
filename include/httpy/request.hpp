#pragma once

#include "httpy/fields.hpp"

#include <string>

namespace httpy {

/// One HTTP request as a plain C++ value: what crosses from the network (or any caller) to a
/// handler. Holds no Python object and may be moved between threads freely.
struct request {
    /// The method as sent, e.g. "GET".
    std::string method;
    /// The target's path, percent-decoded, without the query.
    std::string path;
    /// Path parameters captured by the matched route (`:name` and `*name` segments).
    fields params;
    /// The query string parsed the way Go's `url.ParseQuery` does (see `parse_query`).
    fields query;
    /// Every header, names in Go's canonical form (see `canonical_header_name`).
    fields headers;
    /// The body bytes exactly as received (may contain NUL and invalid UTF-8).
    std::string body;
};

} // namespace httpy
