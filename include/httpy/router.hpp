#pragma once

#include "httpy/fields.hpp"
#include "httpy/method.hpp"
#include "httpy/route_handler.hpp"
#include "httpy/route_table.hpp"

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace httpy {

/// The outcome of routing one request.
struct route_match {
    /// 200 when a route matched, 404 when no route has the path, 405 when the path matched but
    /// not the method.
    int status = 404;
    /// The matched handler (status 200 only); points into the router.
    const route_handler* handler = nullptr;
    /// The pattern that matched, as registered ("/users/:id"), or "*" for the fallback handler
    /// (status 200 only; empty otherwise): what metrics label a request with, never the raw path.
    /// Points into the router.
    std::string_view route;
    /// Captured path parameters, in pattern order (status 200 only).
    fields params;
    /// The methods the path accepts (status 405 only), for the `Allow` header.
    std::vector<method> allowed;
};

/// Maps (method, path) to a handler with httprouter's pattern syntax: `:name` captures one
/// segment, `*name` captures the rest of the path and may only be the last segment. At each
/// position static segments are tried before parameters, and parameters before catch-alls.
/// A GET route also answers HEAD unless HEAD is registered itself.
///
/// Pure C++: no Python, no sockets. Registration is not thread-safe; matching is, once
/// registration is over.
class router {
public:
    router();
    ~router();
    router(router&&) noexcept;
    router& operator=(router&&) noexcept;

    /// Registers `handler` for `m` on `pattern`.
    /// Throws: config_error naming the pattern when it is malformed, when the same method is
    /// already registered on an equivalent pattern, or when it conflicts with a registered one
    /// (a different parameter name at the same position, a catch-all beside another).
    void add(method m, std::string_view pattern, route_handler handler);

    /// Registers every route of `routes` (each of its methods on its pattern) with a copy of
    /// `handler`: `add(app.routes(), app.handler())` sends them to that Python application.
    /// Throws: config_error as `add`.
    void add(const route_table& routes, const route_handler& handler);

    /// `add` for one method: `get("/native", [](const request&) { ... })`,
    /// `post("/python", app.handler())`.
    void get(std::string_view pattern, route_handler h) { add(method::get, pattern, std::move(h)); }
    void post(std::string_view pattern, route_handler h) {
        add(method::post, pattern, std::move(h));
    }
    void put(std::string_view pattern, route_handler h) { add(method::put, pattern, std::move(h)); }
    void patch(std::string_view pattern, route_handler h) {
        add(method::patch, pattern, std::move(h));
    }
    void del(std::string_view pattern, route_handler h) {
        add(method::delete_, pattern, std::move(h));
    }

    /// Routes a request. `method_name` is the method as sent (an unknown method never matches,
    /// giving 405 when the path exists); `path` is the decoded path.
    route_match match(std::string_view method_name, std::string_view path) const;

    /// Answers every request no route matches (instead of 404 or 405), with no params: how an
    /// application without routes sends every method and path to one handler, e.g.
    /// `fallback(app.handler())`.
    void fallback(route_handler handler);

private:
    route_match match_routes(std::string_view method_name, std::string_view path) const;

    struct node;
    std::unique_ptr<node> root_;
    std::optional<route_handler> fallback_;
};

/// Checks an httprouter pattern: it starts with '/', has no empty segment except a trailing
/// '/', every `:name` or `*name` wildcard is a whole segment with a non-empty name, and a
/// catch-all is the last segment.
/// Throws: config_error naming the pattern and what is wrong.
void check_pattern(std::string_view pattern);

} // namespace httpy
