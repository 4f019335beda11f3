#pragma once

#include "httpy/request.hpp"
#include "server/chunked_decoder.hpp"
#include "server/request_parser.hpp"

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace httpy::detail {

/// Reads one request out of the bytes a connection receives, with no I/O of its own: the head
/// is screened (`screen_request_head`), then parsed by `request_parser`; the body is read to its
/// Content-Length or decoded by `chunked_decoder`. The session feeds it whatever arrives; the
/// fuzz target feeds it arbitrary bytes the same way.
class request_reader {
public:
    request_reader(std::size_t max_header_bytes, std::size_t max_body_bytes);

    /// Takes what it can of `received` (all bytes buffered and not yet used), possibly
    /// rewriting an HTTP/1.x version in place. Returns the bytes used; the rest belongs to a
    /// later request. Sets `ec` when the request is refused (see `status_for_read_error`).
    std::size_t put(std::span<char> received, boost::system::error_code& ec);

    /// True once the request line and headers are in (`head()` is then complete).
    bool head_done() const noexcept { return head_done_; }
    /// True once the whole request, body included, is in.
    bool done() const noexcept;

    /// The parsed head: target, version, keep-alive, Expect. Requires: head_done().
    const request_parser& head() const noexcept { return parser_; }
    /// The request: method and headers once head_done(), the body once done().
    request& get() noexcept { return parser_.get(); }

private:
    std::size_t put_body(std::span<char> received, boost::system::error_code& ec);

    std::size_t max_header_bytes_;
    std::size_t max_body_bytes_;
    request_parser parser_;
    std::size_t searched_ = 0;              // of the head, see screen_request_head
    bool head_done_ = false;
    std::optional<chunked_decoder> chunked_; // set when the body is chunked
    std::uint64_t body_left_ = 0;           // Content-Length bytes still to come
};

} // namespace httpy::detail
