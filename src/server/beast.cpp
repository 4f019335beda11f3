#include "httpy/beast.hpp"

#include "httpy/header_name.hpp"
#include "httpy/status.hpp"
#include "httpy/target.hpp"
#include "server/http_date.hpp"
#include "server/response_head.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>

namespace httpy {

namespace http = boost::beast::http;
using boost::beast::iequals;

namespace {

bool server_owned(std::string_view name) {
    return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
           iequals(name, "Connection");
}

bool says_close(const fields& headers) {
    const auto* values = headers.find("Connection");
    return values && !values->empty() && iequals(values->front(), "close");
}

} // namespace

std::optional<request> from_beast(beast_request& req) {
    auto target = parse_target(origin_form(req.target()));
    if (!target)
        return std::nullopt;
    request r;
    r.method = std::string(req.method_string());
    r.path = std::move(target->path);
    r.query = std::move(target->query);
    for (const auto& field : req)
        r.headers.add(canonical_header_name(field.name_string()), field.value());
    r.body = std::move(req.body());
    return r;
}

beast_response to_beast(response r, const beast_request& req) {
    if (r.status < 100 || r.status > 599)
        r = status_response(500);
    beast_response out;
    out.version(req.version());
    out.result(static_cast<unsigned>(r.status));
    // Beast's own phrase where it has one; httpy's ("Unknown") instead of "<unknown-status>".
    if (http::int_to_status(static_cast<unsigned>(r.status)) == http::status::unknown)
        out.reason(reason_phrase(r.status));
    bool has_date = false, has_server = false;
    for (const auto& [name, values] : r.headers) {
        if (server_owned(name) || !is_header_token(name))
            continue;
        for (const auto& value : values) {
            if (has_forbidden_header_chars(value))
                continue;
            out.insert(name, value);
            has_date = has_date || iequals(name, "Date");
            has_server = has_server || iequals(name, "Server");
        }
    }
    if (!has_date)
        out.set(http::field::date, detail::http_date());
    if (!has_server)
        out.set(http::field::server, "httpy");
    out.keep_alive(req.keep_alive() && !says_close(r.headers));
    if (detail::bodyless_status(r.status))
        return out;
    out.content_length(r.body.size());
    if (req.method() != http::verb::head)
        out.body() = std::move(r.body);
    return out;
}

} // namespace httpy
