#pragma once

#include "httpy/request.hpp"
#include "core/spool_file.hpp"
#include "server/chunked_decoder.hpp"
#include "server/request_parser.hpp"
#include "httpy/server_options.hpp"

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace httpy::detail {

/// How a request's response goes out, decided once from the request's head.
struct response_mode {
    /// The version of the status line: 10 or 11.
    unsigned version = 11;
    /// The client's wish to keep the connection open: HTTP/1.1 without `Connection: close`, or
    /// HTTP/1.0 with `Connection: keep-alive` (see `keep_alive` in session.cpp for the rest).
    bool keep_alive = false;
    /// A HEAD request: the response's headers without its body.
    bool head = false;
};

/// Reads one request out of the bytes a connection receives, with no I/O of its own, and hands
/// it back ready for routing: the head is screened (`screen_request_head`) and parsed by
/// `request_parser` (method, headers), the target decoded (`origin_form`, `parse_target`: path
/// and query), then the body read to its Content-Length or decoded by `chunked_decoder`. Path
/// parameters are the router's. The session feeds it whatever arrives; the fuzz target feeds it
/// arbitrary bytes the same way.
class request_reader {
public:
    /// A reader for one request under `options`' limits: max_header_bytes, max_header_count,
    /// max_body_bytes and max_query_params; a body larger than spool_body_above goes to a
    /// temporary file (`request::body_spool`) as it arrives.
    explicit request_reader(const server_options& options);

    /// Takes what it can of `received` (all bytes buffered and not yet used), possibly
    /// rewriting an HTTP/1.x version in place. Returns the bytes used; the rest belongs to a
    /// later request. Sets `ec` when the request is refused: a `request_error` or one of
    /// Beast's `http::error` values (`status_of` and the session give their statuses).
    std::size_t put(std::span<char> received, boost::system::error_code& ec);

    /// True once the request line and headers are in and the target is decoded.
    bool head_done() const noexcept { return head_done_; }
    /// True once the whole request, body included, is in.
    bool done() const noexcept;

    /// The parsed head: the raw target, version, Expect. Requires: head_done().
    const request_parser& head() const noexcept { return parser_; }
    /// The request: method, path, query and headers once head_done(), the body once done();
    /// `params` stays empty for the router to fill.
    request& get() noexcept { return parser_.get(); }
    const request& get() const noexcept { return parser_.get(); }
    /// True for `OPTIONS *`, a question about the server itself: it has no path and is not
    /// routed. Requires: head_done().
    bool asterisk() const noexcept { return asterisk_; }
    /// How the response goes out. Requires: head_done().
    response_mode mode() const noexcept;

private:
    std::size_t put_head(std::span<char> received, boost::system::error_code& ec);
    boost::system::error_code decode_target();
    std::size_t put_body(std::span<char> received, boost::system::error_code& ec);
    void spool(boost::system::error_code& ec);

    std::size_t max_header_bytes_;
    std::size_t max_body_bytes_;
    std::size_t max_query_params_;
    std::size_t spool_above_;               // 0: never
    request_parser parser_;
    std::size_t searched_ = 0;              // of the head, see screen_request_head
    bool head_done_ = false;
    bool asterisk_ = false;
    std::optional<chunked_decoder> chunked_; // set when the body is chunked
    std::uint64_t body_left_ = 0;           // Content-Length bytes still to come
    spool_file spool_;                      // the body past spool_above_
};

} // namespace httpy::detail
