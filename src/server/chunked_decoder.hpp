#pragma once

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace httpy::detail {

/// Decodes a chunked request body (RFC 9112 7.1) as its bytes arrive, strictly: every line ends
/// in CRLF, a chunk size is hex and fits, a chunk extension is `;name[=token|"quoted"]`, and
/// the trailer section is field lines. It refuses a bad byte the moment it arrives rather than
/// waiting for a line end that may never come. Trailer fields are read and dropped.
class chunked_decoder {
public:
    /// `max_body`: the largest decoded body (413 above it); `max_line`: the longest chunk-size
    /// line and the largest trailer section.
    chunked_decoder(std::size_t max_body, std::size_t max_line) noexcept
        : max_body_(max_body), max_line_(max_line) {}

    /// Decodes what it can of `in`, appending chunk data to `body`. Returns the bytes used:
    /// all of `in` unless the body ended inside it. Sets `ec` (Beast's bad_chunk,
    /// bad_chunk_extension, body_limit or header_limit) on a framing error; then stop.
    std::size_t put(std::string_view in, std::string& body, boost::system::error_code& ec);

    /// True once the last chunk and the trailer section have been read.
    bool done() const noexcept { return state_ == state::done; }

private:
    enum class state {
        size,            // chunk-size hex digits
        ext_bws,         // whitespace after the size or a value: only ';' may follow
        ext_name_start,  // after ';': whitespace, then an extension name
        ext_name,        // inside an extension name
        ext_after_name,  // whitespace after a name: '=' or ';' may follow
        ext_value_start, // after '=': whitespace, then a token or a quoted string
        ext_token,       // inside a token value
        ext_quoted,      // inside a quoted value
        ext_quoted_pair, // after a backslash in a quoted value
        ext_after_quoted, // after the closing quote
        size_lf,         // the CR ending the size line was seen
        data,            // chunk data
        data_cr,         // the CR after chunk data
        data_lf,         // the LF after chunk data
        trailer_start,   // the start of a trailer field line, or the final CRLF
        trailer_name,    // inside a trailer field name
        trailer_value,   // after the colon of a trailer field line
        trailer_lf,      // the CR ending a trailer line was seen
        final_lf,        // the CR of the final empty line was seen
        done,
    };

    // Takes one byte of a size line or the trailer section; sets ec on a framing error.
    void line_char(char c, boost::system::error_code& ec);
    // The size line ended (at its CR or first non-digit): checks the size against the limit.
    void end_of_size(boost::system::error_code& ec);

    std::size_t max_body_;
    std::size_t max_line_;
    state state_ = state::size;
    std::uint64_t chunk_ = 0;   // size of the chunk being read, then bytes of it left
    std::size_t digits_ = 0;    // significant hex digits of the size so far
    bool seen_digit_ = false;   // the size line has a digit (maybe only zeros)
    std::size_t line_ = 0;      // bytes of the current size line, or of the trailer section
    std::size_t decoded_ = 0;   // body bytes so far
};

} // namespace httpy::detail
