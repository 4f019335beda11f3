#pragma once

#include "httpy/request.hpp"

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/field.hpp>

#include <cstddef>
#include <string>

namespace httpy::detail {

/// A Beast request parser for a request's head: fills an `httpy::request`'s method and headers
/// (names canonicalised Go-style, order and repeats kept) with no intermediate message. The
/// body is read by `request_reader`, never by this parser.
/// The raw target is kept for `request_reader`, which decodes it into path and query.
/// Beyond Beast's own checks it refuses (with a `request_error`) what RFC 9112 makes a 400 and
/// request smuggling uses: a missing, repeated or malformed Host in HTTP/1.1, Transfer-Encoding
/// without one final `chunked`, Transfer-Encoding with Content-Length, and Transfer-Encoding in
/// HTTP/1.0; more than `max_header_count` header fields (431); and what it does not implement
/// (501): CONNECT, a method longer than `longest_method`, a transfer coding before `chunked`.
class request_parser final : public boost::beast::http::basic_parser<true> {
public:
    request_parser(std::size_t header_limit, std::size_t body_limit, std::size_t max_header_count);

    /// The request parsed so far (complete once `is_done()`).
    request& get() noexcept { return req_; }
    const request& get() const noexcept { return req_; }
    /// The request target exactly as received.
    const std::string& target() const noexcept { return target_; }
    /// 10 for HTTP/1.0, 11 for HTTP/1.1.
    unsigned version() const noexcept { return version_; }
    /// True when the client sent `Expect: 100-continue`.
    bool expects_continue() const noexcept { return expects_continue_; }

private:
    using string_view = boost::beast::string_view;
    using error_code = boost::system::error_code;

    void on_request_impl(boost::beast::http::verb, string_view method, string_view target,
                         int version, error_code&) override;
    void on_response_impl(int, string_view, int, error_code& ec) override;
    void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                       error_code&) override;
    void on_header_impl(error_code& ec) override;
    // Never called: request_reader stops feeding the parser after the head.
    void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
    std::size_t on_body_impl(string_view, error_code&) override { return 0; }
    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, string_view, error_code&) override { return 0; }
    void on_finish_impl(error_code&) override {}

    request req_;
    std::size_t max_header_count_;
    std::size_t header_count_ = 0;
    std::string target_;
    std::string transfer_encoding_; // every Transfer-Encoding line, joined by commas
    int hosts_ = 0;
    bool bad_host_ = false;
    bool content_length_ = false;
    unsigned version_ = 11;
    bool expects_continue_ = false;
};

} // namespace httpy::detail
