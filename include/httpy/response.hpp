#pragma once

#include "httpy/fields.hpp"

#include <string>

namespace httpy {

/// One HTTP response as a plain C++ value: what a handler answers. Holds no Python object.
///
/// Invariants when produced by the marshal layer: `status` is in 200..599, header names are
/// HTTP tokens and no name or value contains CR, LF or NUL.
struct response {
    int status = 200;
    /// The body bytes to send as they are.
    std::string body;
    /// Headers in the order the handler gave them; a name with several values is sent as
    /// several header lines.
    fields headers;
};

} // namespace httpy
