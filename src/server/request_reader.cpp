#include "server/request_reader.hpp"

#include "server/request_head.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>

namespace httpy::detail {

request_reader::request_reader(std::size_t max_header_bytes, std::size_t max_body_bytes)
    : max_header_bytes_(max_header_bytes), max_body_bytes_(max_body_bytes),
      parser_(max_header_bytes, max_body_bytes) {}

bool request_reader::done() const noexcept {
    return head_done_ && (chunked_ ? chunked_->done() : body_left_ == 0);
}

std::size_t request_reader::put(std::span<char> received, boost::system::error_code& ec) {
    ec = {};
    if (head_done_)
        return put_body(received, ec);
    const head_screen screen = screen_request_head(received, max_header_bytes_, searched_);
    if (screen.ec) {
        ec = screen.ec;
        return 0;
    }
    searched_ = screen.searched;
    if (screen.size == 0)
        return 0; // keep the bytes (and any leading empty lines) until the head is complete
    // The whole head at once: Beast's parser stops after it (it is not eager).
    const auto head = received.subspan(screen.skip, screen.size);
    const std::size_t parsed = parser_.put(boost::asio::buffer(head.data(), head.size()), ec);
    if (ec)
        return 0;
    if (!parser_.is_header_done() || parsed != head.size()) {
        ec = boost::beast::http::error::bad_line_ending; // cannot happen with a screened head
        return 0;
    }
    head_done_ = true;
    if (parser_.chunked())
        chunked_.emplace(max_body_bytes_, max_header_bytes_);
    else if (const auto length = parser_.content_length()) {
        body_left_ = *length; // the parser has checked it against the body limit
        parser_.get().body.reserve(static_cast<std::size_t>(*length));
    }
    const std::size_t used = screen.skip + screen.size;
    return used + put_body(received.subspan(used), ec);
}

std::size_t request_reader::put_body(std::span<char> received, boost::system::error_code& ec) {
    std::string& body = parser_.get().body;
    if (chunked_)
        return chunked_->put({received.data(), received.size()}, body, ec);
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, received.size()));
    body.append(received.data(), n);
    body_left_ -= n;
    return n;
}

} // namespace httpy::detail
