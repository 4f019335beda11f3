#pragma once

#include "httpy/fields.hpp"

#include <memory>
#include <string>

namespace httpy {

class body_file;
class body_stream;

/// One HTTP response as a plain C++ value: what a handler answers. Holds no Python object.
///
/// The body is `body`, then the file region `file` or the chunks of `stream` when one is set.
/// With neither, the length is known and sent as `Content-Length`; with `file` too. With a
/// stream it is the handler's own `Content-Length` header when it set one (a shorter body
/// closes the connection, a longer one is cut), else the body is sent chunked (HTTP/1.1) or
/// delimited by closing the connection (HTTP/1.0).
///
/// Invariants when produced by the marshal layer: `status` is in 200..599, header names are
/// HTTP tokens and no name or value contains CR, LF or NUL.
struct response {
    int status = 200;
    /// The body bytes to send as they are (the first part of the body when more follows).
    std::string body;
    /// Headers in the order the handler gave them; a name with several values is sent as
    /// several header lines.
    fields headers;
    /// The rest of the body, a region of a file (sent with sendfile).
    std::shared_ptr<body_file> file;
    /// The rest of the body, produced while it is sent.
    std::shared_ptr<body_stream> stream;
};

} // namespace httpy
