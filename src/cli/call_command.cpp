#include "cli/call_command.hpp"

#include "httpy/app.hpp"
#include "httpy/body_file.hpp"
#include "httpy/body_stream.hpp"
#include "httpy/config_error.hpp"
#include "httpy/header_name.hpp"
#include "httpy/interpreter.hpp"
#include "httpy/router.hpp"
#include "httpy/status.hpp"
#include "httpy/target.hpp"
#include "cli/app_spec.hpp"

#include <boost/asio/use_future.hpp>
#include <boost/beast/core/string.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>

#include <unistd.h>

namespace httpy::cli {

namespace {

constexpr int exit_usage = 2;

class usage_error : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

fields parse_headers(const std::vector<std::string>& lines) {
    fields headers;
    for (std::string_view line : lines) {
        const auto colon = line.find(':');
        const auto name = colon == std::string_view::npos ? line : line.substr(0, colon);
        const auto value =
            colon == std::string_view::npos ? "" : trim_whitespace(line.substr(colon + 1));
        if (colon == std::string_view::npos || !is_header_token(name) ||
            has_forbidden_header_chars(value))
            throw usage_error("bad header \"" + std::string(line) + "\": expected 'Name: value'");
        headers.add(canonical_header_name(name), value);
    }
    return headers;
}

std::string read_body(const call_options& options) {
    if (options.data_file.empty())
        return options.body;
    std::ifstream in(options.data_file, std::ios::binary);
    if (!in)
        throw usage_error("cannot read --data-file " + options.data_file);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

request make_request(const call_options& options) {
    auto target = parse_target(options.target);
    if (!target)
        throw usage_error("bad target \"" + options.target +
                          "\": expected /path?query with valid percent-escapes");
    return {options.method, std::move(target->path), {}, std::move(target->query),
            parse_headers(options.headers), read_body(options)};
}

app_options make_app_options(const call_options& options) {
    app_options o = detail::app_spec(options.app, options.no_init);
    o.python.threads = 1;
    o.python.body_as_bytes = options.body_bytes;
    o.python.handler_timeout =
        std::chrono::milliseconds(static_cast<long long>(options.handler_timeout * 1000));
    return o;
}

// The whole body of `r`: its file region and its stream's chunks read in, so that it prints as
// it would arrive. A stream that fails ends the body there (the failure is logged).
void read_whole_body(response& r) {
    if (r.file) {
        std::string rest(static_cast<std::size_t>(r.file->length()), '\0');
        std::size_t got = 0;
        while (got < rest.size()) {
            const ssize_t n = ::pread(r.file->fd(), rest.data() + got, rest.size() - got,
                                      static_cast<off_t>(r.file->offset() + got));
            if (n <= 0)
                break;
            got += static_cast<std::size_t>(n);
        }
        r.body.append(rest, 0, got);
        r.file.reset();
    }
    while (r.stream) {
        call_result next = r.stream->async_next(boost::asio::use_future).get();
        if (next.error || next.resp.body.empty())
            break;
        r.body += next.resp.body;
    }
    r.stream.reset();
}

void print(std::string_view method, const response& r) {
    std::ostringstream head;
    head << "HTTP/1.1 " << r.status << ' ' << reason_phrase(r.status) << "\r\n";
    // Content-Length is the server's, as it would be over the wire.
    for (const auto& [name, values] : r.headers)
        if (!boost::beast::iequals(name, "Content-Length")) // ASGI apps send it lower-case
            for (const auto& value : values)
                head << name << ": " << value << "\r\n";
    head << "Content-Length: " << r.body.size() << "\r\n";
    head << "\r\n";
    std::cout << head.str();
    if (method != "HEAD")
        std::cout.write(r.body.data(), static_cast<std::streamsize>(r.body.size()));
    std::cout.flush();
}

// Routes `req` as the server would; nullopt when the router answers (404, 405) itself.
std::optional<response> route(app& application, request& req) {
    if (!application.has_init())
        return std::nullopt;
    router routes;
    routes.add(application.routes(), application.handler());
    route_match match = routes.match(req.method, req.path);
    if (match.status == 404)
        return status_response(404);
    if (match.status == 405)
        return method_not_allowed(match.allowed);
    req.params = std::move(match.params);
    return std::nullopt;
}

} // namespace

int run_call(const call_options& options) {
    try {
        request req = make_request(options);
        interpreter python({.venv = detail::venv_of(options.app)});
        app application(make_app_options(options));
        const std::string method = req.method;
        response r;
        if (auto answered = route(application, req))
            r = std::move(*answered);
        else
            r = application.call(std::move(req)).resp;
        read_whole_body(r);
        print(method, r);
        return r.status < 500 ? 0 : 1;
    } catch (const usage_error& e) {
        spdlog::error("{}", e.what());
    } catch (const config_error& e) {
        spdlog::error("{}", e.what());
    }
    return exit_usage;
}

} // namespace httpy::cli
