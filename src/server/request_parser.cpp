#include "server/request_parser.hpp"

#include "httpy/header_name.hpp"
#include "server/request_error.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>

namespace httpy::detail {

namespace http = boost::beast::http;

request_parser::request_parser(std::size_t header_limit, std::size_t body_limit,
                               std::size_t max_header_count)
    : max_header_count_(max_header_count) {
    req_.headers.reserve(16);
    this->header_limit(static_cast<std::uint32_t>(header_limit));
    this->body_limit(body_limit);
}

void request_parser::on_request_impl(http::verb verb, string_view method, string_view target,
                                     int version, error_code& ec) {
    if (verb == http::verb::connect) {
        ec = request_error::connect_method;
        return;
    }
    if (method.size() > longest_method) {
        ec = request_error::method_too_long;
        return;
    }
    req_.method.assign(method.data(), method.size());
    target_.assign(target.data(), target.size());
    version_ = static_cast<unsigned>(version);
}

void request_parser::on_response_impl(int, string_view, int, error_code& ec) {
    ec = http::error::bad_method; // a status line where a request line belongs
}

void request_parser::on_field_impl(http::field name, string_view name_string, string_view value,
                                   error_code& ec) {
    if (++header_count_ > max_header_count_) {
        ec = request_error::too_many_headers;
        return;
    }
    switch (name) {
    case http::field::expect:
        expects_continue_ = expects_continue_ || boost::beast::iequals(value, "100-continue");
        break;
    case http::field::host:
        ++hosts_;
        bad_host_ = bad_host_ || !valid_host({value.data(), value.size()});
        break;
    case http::field::transfer_encoding:
        transfer_encoding_.append(",").append(value.data(), value.size());
        break;
    case http::field::content_length:
        content_length_ = true;
        break;
    default:
        break;
    }
    req_.headers.add(canonical_header_name({name_string.data(), name_string.size()}),
                     {value.data(), value.size()});
}

void request_parser::on_header_impl(error_code& ec) {
    if (hosts_ > 1)
        ec = request_error::duplicate_host;
    else if (bad_host_)
        ec = request_error::bad_host;
    else if (hosts_ == 0 && version_ >= 11)
        ec = request_error::missing_host;
    else if (transfer_encoding_.empty())
        return;
    else if (version_ < 11)
        ec = request_error::transfer_encoding_in_http10;
    else if (content_length_)
        ec = request_error::transfer_encoding_with_content_length;
    else
        ec = check_transfer_codings(transfer_encoding_);
}

} // namespace httpy::detail
