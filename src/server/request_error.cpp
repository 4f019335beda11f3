#include "server/request_error.hpp"

#include "httpy/header_name.hpp"

#include <boost/beast/core/string.hpp>

#include <string>

namespace httpy::detail {

namespace {

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "httpy.request"; }

    std::string message(int value) const override {
        switch (static_cast<request_error>(value)) {
        case request_error::missing_host:
            return "HTTP/1.1 request without a Host header";
        case request_error::duplicate_host:
            return "more than one Host header";
        case request_error::bad_host:
            return "malformed Host header";
        case request_error::bad_transfer_encoding:
            return "Transfer-Encoding without a single final chunked";
        case request_error::transfer_encoding_with_content_length:
            return "both Transfer-Encoding and Content-Length";
        case request_error::transfer_encoding_in_http10:
            return "Transfer-Encoding in an HTTP/1.0 request";
        case request_error::obs_fold:
            return "folded header line (obs-fold)";
        case request_error::unsupported_version:
            return "unsupported HTTP major version";
        case request_error::unsupported_transfer_coding:
            return "a transfer coding other than chunked";
        case request_error::connect_method:
            return "the CONNECT method";
        case request_error::method_too_long:
            return "a method longer than any known one";
        case request_error::too_many_headers:
            return "more header fields than the limit";
        case request_error::bad_target:
            return "bad request target";
        case request_error::too_many_query_params:
            return "more query parameters than the limit";
        case request_error::body_not_stored:
            return "the request body could not be written to a temporary file in TMPDIR";
        }
        return "bad request";
    }
};

bool reg_name_char(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z'))
        return true;
    return std::string_view("-._~%!$&'()*+,;=").find(c) != std::string_view::npos;
}

} // namespace

const boost::system::error_category& request_error_category() noexcept {
    static const category instance;
    return instance;
}

std::string_view reason_of(request_error e) noexcept {
    switch (e) {
    case request_error::missing_host:
        return "missing_host";
    case request_error::duplicate_host:
        return "duplicate_host";
    case request_error::bad_host:
        return "bad_host";
    case request_error::bad_transfer_encoding:
        return "bad_transfer_encoding";
    case request_error::transfer_encoding_with_content_length:
        return "transfer_encoding_with_content_length";
    case request_error::transfer_encoding_in_http10:
        return "transfer_encoding_in_http10";
    case request_error::obs_fold:
        return "obs_fold";
    case request_error::unsupported_version:
        return "unsupported_version";
    case request_error::unsupported_transfer_coding:
        return "unsupported_transfer_coding";
    case request_error::connect_method:
        return "connect_method";
    case request_error::method_too_long:
        return "method_too_long";
    case request_error::too_many_headers:
        return "too_many_headers";
    case request_error::bad_target:
        return "bad_target";
    case request_error::too_many_query_params:
        return "too_many_query_params";
    case request_error::body_not_stored:
        return "body_not_stored";
    }
    return "malformed";
}

int status_of(request_error e) noexcept {
    switch (e) {
    case request_error::unsupported_version:
        return 505;
    case request_error::unsupported_transfer_coding:
    case request_error::connect_method:
    case request_error::method_too_long:
        return 501;
    case request_error::too_many_headers:
        return 431;
    case request_error::body_not_stored:
        return 500;
    default:
        return 400;
    }
}

bool valid_host(std::string_view host) noexcept {
    std::string_view name = host, port;
    if (!host.empty() && host.front() == '[') {
        const auto close = host.find(']');
        if (close == std::string_view::npos)
            return false;
        name = host.substr(1, close - 1);
        if (name.empty() || name.find_first_not_of("0123456789abcdefABCDEF:.vV") != name.npos)
            return false;
        const auto rest = host.substr(close + 1);
        if (!rest.empty() && rest.front() != ':')
            return false;
        port = rest.empty() ? rest : rest.substr(1);
        return port.find_first_not_of("0123456789") == port.npos;
    }
    if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
        name = host.substr(0, colon);
        port = host.substr(colon + 1);
        if (port.find_first_not_of("0123456789") != port.npos)
            return false;
    }
    for (char c : name)
        if (!reg_name_char(c) || c == ':')
            return false;
    return true; // an empty reg-name is allowed (RFC 3986)
}

boost::system::error_code check_transfer_codings(std::string_view codings) noexcept {
    int chunked = 0, others = 0;
    bool malformed = false, chunked_last = false;
    while (!codings.empty()) {
        const auto comma = codings.find(',');
        const auto item = trim_whitespace(codings.substr(0, comma));
        codings = comma == std::string_view::npos ? std::string_view() : codings.substr(comma + 1);
        if (item.empty())
            continue;
        chunked_last = boost::beast::iequals(item, "chunked");
        if (chunked_last) {
            ++chunked;
            continue;
        }
        ++others;
        // A coding's name, before any ";parameter", is a token; its parameters are not read.
        const auto coding = trim_whitespace(item.substr(0, item.find(';')));
        malformed = malformed || !is_header_token(coding);
    }
    if (!chunked_last || chunked > 1 || malformed)
        return request_error::bad_transfer_encoding;
    return others > 0 ? request_error::unsupported_transfer_coding : boost::system::error_code();
}

} // namespace httpy::detail
