#include "server/request_reader.hpp"

#include "httpy/target.hpp"
#include "server/request_error.hpp"
#include "server/request_head.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <string_view>

namespace httpy::detail {

request_reader::request_reader(const server_options& options)
    : max_header_bytes_(options.max_header_bytes), max_body_bytes_(options.max_body_bytes),
      max_query_params_(options.max_query_params), spool_above_(options.spool_body_above),
      parser_(options.max_header_bytes, options.max_body_bytes, options.max_header_count) {}

bool request_reader::done() const noexcept {
    return head_done_ && (chunked_ ? chunked_->done() : body_left_ == 0);
}

response_mode request_reader::mode() const noexcept {
    return {parser_.version(), parser_.keep_alive(), parser_.get().method == "HEAD"};
}

std::size_t request_reader::put(std::span<char> received, boost::system::error_code& ec) {
    ec = {};
    if (head_done_)
        return put_body(received, ec);
    const std::size_t used = put_head(received, ec);
    if (ec || !head_done_)
        return 0; // keep the bytes (and any leading empty lines) until the head is complete
    return used + put_body(received.subspan(used), ec);
}

// The request line and headers, once all of them are in; returns the bytes they took.
std::size_t request_reader::put_head(std::span<char> received, boost::system::error_code& ec) {
    const head_screen screen = screen_request_head(received, max_header_bytes_, searched_);
    if (screen.ec) {
        ec = screen.ec;
        return 0;
    }
    searched_ = screen.searched;
    if (screen.size == 0)
        return 0;
    // The whole head at once: Beast's parser stops after it (it is not eager).
    const auto head = received.subspan(screen.skip, screen.size);
    const std::size_t parsed = parser_.put(boost::asio::buffer(head.data(), head.size()), ec);
    if (ec)
        return 0;
    if (!parser_.is_header_done() || parsed != head.size()) {
        ec = boost::beast::http::error::bad_line_ending; // cannot happen with a screened head
        return 0;
    }
    ec = decode_target();
    if (ec)
        return 0;
    head_done_ = true;
    if (parser_.chunked())
        chunked_.emplace(max_body_bytes_, max_header_bytes_);
    else if (const auto length = parser_.content_length()) {
        body_left_ = *length; // the parser has checked it against the body limit
        const bool spooled = spool_above_ != 0 && *length > spool_above_;
        parser_.get().body.reserve(static_cast<std::size_t>(spooled ? spool_above_ : *length));
    }
    return screen.skip + screen.size;
}

// The target into the request's path and query; `OPTIONS *` has neither.
boost::system::error_code request_reader::decode_target() {
    const std::string& target = parser_.target();
    request& req = parser_.get();
    if (target == "*" && req.method == "OPTIONS") {
        asterisk_ = true;
        return {};
    }
    std::string origin = origin_form(target);
    auto decoded = parse_target(origin, max_query_params_);
    if (!decoded) {
        const auto question = target.find('?');
        const std::string_view query = question == std::string::npos
                                           ? std::string_view()
                                           : std::string_view(target).substr(question + 1);
        if (count_query_params(query) > max_query_params_)
            return request_error::too_many_query_params;
        return request_error::bad_target;
    }
    req.path = std::move(decoded->path);
    req.query = std::move(decoded->query);
    origin.resize(std::min(origin.find('?'), origin.size()));
    req.raw_path = std::move(origin);
    if (const auto question = target.find('?'); question != std::string::npos)
        req.query_string.assign(target, question + 1);
    req.version = parser_.version();
    return {};
}

std::size_t request_reader::put_body(std::span<char> received, boost::system::error_code& ec) {
    std::string& body = parser_.get().body;
    std::size_t used = 0;
    if (chunked_) {
        used = chunked_->put({received.data(), received.size()}, body, ec);
    } else {
        used = static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, received.size()));
        body.append(received.data(), used);
        body_left_ -= used;
    }
    if (!ec && (spool_.is_open() || (spool_above_ != 0 && body.size() > spool_above_)))
        spool(ec);
    return used;
}

// Moves what is buffered of the body to the spool file; at the end, hands the file to the
// request.
void request_reader::spool(boost::system::error_code& ec) {
    request& req = parser_.get();
    if (!spool_.append(req.body)) {
        ec = request_error::body_not_stored;
        return;
    }
    req.body.clear();
    if (done())
        req.body_spool = spool_.release();
}

} // namespace httpy::detail
