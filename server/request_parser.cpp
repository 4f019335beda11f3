#include "server/detail/request_parser.hpp"

#include "httpy/header_name.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>

namespace httpy::detail {

namespace http = boost::beast::http;

request_parser::request_parser(std::size_t header_limit, std::size_t body_limit) {
    req_.headers.reserve(16);
    this->header_limit(static_cast<std::uint32_t>(header_limit));
    this->body_limit(body_limit);
}

void request_parser::on_request_impl(http::verb, string_view method, string_view target,
                                     int version, error_code&) {
    req_.method.assign(method.data(), method.size());
    target_.assign(target.data(), target.size());
    version_ = static_cast<unsigned>(version);
}

void request_parser::on_response_impl(int, string_view, int, error_code& ec) {
    ec = http::error::bad_method; // a status line where a request line belongs
}

void request_parser::on_field_impl(http::field name, string_view name_string, string_view value,
                                   error_code&) {
    if (name == http::field::expect && boost::beast::iequals(value, "100-continue"))
        expects_continue_ = true;
    req_.headers.add(canonical_header_name({name_string.data(), name_string.size()}),
                     {value.data(), value.size()});
}

void request_parser::on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) {
    if (length) // the parser has checked it against the body limit already
        req_.body.reserve(static_cast<std::size_t>(*length));
}

std::size_t request_parser::on_body_impl(string_view body, error_code&) {
    req_.body.append(body.data(), body.size());
    return body.size();
}

std::size_t request_parser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
    req_.body.append(body.data(), body.size());
    return body.size();
}

} // namespace httpy::detail
