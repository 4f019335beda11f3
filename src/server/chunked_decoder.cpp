#include "server/chunked_decoder.hpp"

#include "core/hex_digit.hpp"
#include "httpy/header_name.hpp"

#include <boost/beast/http/error.hpp>

#include <algorithm>

namespace httpy::detail {

namespace http = boost::beast::http;

namespace {

bool is_whitespace(char c) noexcept {
    return c == ' ' || c == '\t';
}

// A byte allowed in a field value or quoted text: visible, space, tab or obs-text.
bool is_text(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return is_whitespace(c) || (u >= 0x21 && u != 0x7f);
}

} // namespace

std::size_t chunked_decoder::put(std::string_view in, std::string& body,
                                 boost::system::error_code& ec) {
    std::size_t used = 0;
    while (used < in.size() && state_ != state::done) {
        if (state_ == state::data) {
            const auto n = static_cast<std::size_t>(
                std::min<std::uint64_t>(chunk_, in.size() - used));
            body.append(in.data() + used, n);
            used += n;
            chunk_ -= n;
            if (chunk_ == 0)
                state_ = state::data_cr;
            continue;
        }
        line_char(in[used++], ec);
        if (ec)
            return used;
    }
    return used;
}

void chunked_decoder::end_of_size(boost::system::error_code& ec) {
    if (!seen_digit_)
        ec = http::error::bad_chunk;
    else if (chunk_ > max_body_ - decoded_)
        ec = http::error::body_limit;
}

void chunked_decoder::line_char(char c, boost::system::error_code& ec) {
    const bool in_trailers = state_ >= state::trailer_start;
    if (++line_ > max_line_) {
        ec = in_trailers ? boost::system::error_code(http::error::header_limit)
                         : boost::system::error_code(http::error::bad_chunk_extension);
        return;
    }
    const auto fail = [&ec](http::error e) { ec = e; };
    switch (state_) {
    case state::size:
        if (const int v = hex_digit_value(c); v >= 0) {
            seen_digit_ = true;
            if (chunk_ == 0 && v == 0)
                return; // leading zeros do not count towards the 16 digits a size may have
            if (++digits_ > 16)
                return fail(http::error::bad_chunk);
            chunk_ = chunk_ * 16 + static_cast<unsigned>(v);
            return;
        }
        end_of_size(ec);
        if (ec)
            return;
        if (c == '\r')
            state_ = state::size_lf;
        else if (c == ';')
            state_ = state::ext_name_start;
        else if (is_whitespace(c))
            state_ = state::ext_bws;
        else
            fail(http::error::bad_chunk);
        return;
    case state::ext_bws:
        if (c == ';')
            state_ = state::ext_name_start;
        else if (!is_whitespace(c))
            fail(http::error::bad_chunk_extension);
        return;
    case state::ext_name_start:
        if (is_token_char(c))
            state_ = state::ext_name;
        else if (!is_whitespace(c))
            fail(http::error::bad_chunk_extension);
        return;
    case state::ext_name:
    case state::ext_after_name:
        if (c == '=')
            state_ = state::ext_value_start;
        else if (c == ';')
            state_ = state::ext_name_start;
        else if (is_whitespace(c))
            state_ = state::ext_after_name;
        else if (c == '\r' && state_ == state::ext_name)
            state_ = state::size_lf;
        else if (!is_token_char(c) || state_ == state::ext_after_name)
            fail(http::error::bad_chunk_extension);
        return;
    case state::ext_value_start:
        if (c == '"')
            state_ = state::ext_quoted;
        else if (is_token_char(c))
            state_ = state::ext_token;
        else if (!is_whitespace(c))
            fail(http::error::bad_chunk_extension);
        return;
    case state::ext_token:
    case state::ext_after_quoted:
        if (c == ';')
            state_ = state::ext_name_start;
        else if (c == '\r')
            state_ = state::size_lf;
        else if (is_whitespace(c))
            state_ = state::ext_bws;
        else if (!is_token_char(c) || state_ == state::ext_after_quoted)
            fail(http::error::bad_chunk_extension);
        return;
    case state::ext_quoted:
        if (c == '"')
            state_ = state::ext_after_quoted;
        else if (c == '\\')
            state_ = state::ext_quoted_pair;
        else if (!is_text(c))
            fail(http::error::bad_chunk_extension);
        return;
    case state::ext_quoted_pair:
        if (!is_text(c))
            return fail(http::error::bad_chunk_extension);
        state_ = state::ext_quoted;
        return;
    case state::size_lf:
        if (c != '\n')
            return fail(http::error::bad_chunk);
        state_ = chunk_ == 0 ? state::trailer_start : state::data;
        decoded_ += static_cast<std::size_t>(chunk_);
        line_ = 0;
        digits_ = 0;
        seen_digit_ = false;
        return;
    case state::data_cr:
        if (c != '\r')
            return fail(http::error::bad_chunk);
        state_ = state::data_lf;
        return;
    case state::data_lf:
        if (c != '\n')
            return fail(http::error::bad_chunk);
        state_ = state::size;
        line_ = 0;
        return;
    case state::trailer_start:
        if (c == '\r')
            state_ = state::final_lf;
        else if (is_token_char(c))
            state_ = state::trailer_name;
        else
            fail(http::error::bad_field);
        return;
    case state::trailer_name:
        if (c == ':')
            state_ = state::trailer_value;
        else if (!is_token_char(c))
            fail(http::error::bad_field);
        return;
    case state::trailer_value:
        if (c == '\r')
            state_ = state::trailer_lf;
        else if (!is_text(c))
            fail(http::error::bad_value);
        return;
    case state::trailer_lf:
        if (c != '\n')
            return fail(http::error::bad_line_ending);
        state_ = state::trailer_start;
        return;
    case state::final_lf:
        if (c != '\n')
            return fail(http::error::bad_line_ending);
        state_ = state::done;
        return;
    case state::data:
    case state::done:
        return;
    }
}

} // namespace httpy::detail
