#include "httpy/admin.hpp"

#include "httpy/metrics.hpp"
#include "httpy/request.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <variant>

namespace {

httpy::response call(const httpy::router& routes, const std::string& method,
                     const std::string& path, httpy::fields headers = {}) {
    const auto m = routes.match(method, path);
    if (m.status != 200)
        return httpy::response{m.status, "", {}};
    const auto* native = std::get_if<httpy::native_handler>(m.handler);
    REQUIRE(native != nullptr);
    return (*native)(httpy::request(method, path, {}, {}, std::move(headers)));
}

std::string header(const httpy::response& r, const char* name) {
    const auto* v = r.headers.find(name);
    return v && !v->empty() ? std::string(v->front()) : std::string();
}

} // namespace

TEST_CASE("/readyz is 200 when ready and 503 with the reason when not") {
    std::optional<std::string> reason;
    const auto routes = httpy::admin_router({.not_ready = [&] { return reason; }});
    auto ready = call(routes, "GET", "/readyz");
    CHECK(ready.status == 200);
    CHECK(ready.body == "ready\n");
    CHECK(header(ready, "Cache-Control") == "no-store");
    reason = "draining: the server is stopping";
    auto not_ready = call(routes, "GET", "/readyz");
    CHECK(not_ready.status == 503);
    CHECK(not_ready.body == "draining: the server is stopping\n");
}

TEST_CASE("/healthz answers 200 whenever it is answered") {
    const auto routes = httpy::admin_router({});
    CHECK(call(routes, "GET", "/healthz").status == 200);
    CHECK(call(routes, "HEAD", "/healthz").status == 200);
    CHECK(call(routes, "POST", "/healthz").status == 405);
    CHECK(call(routes, "GET", "/elsewhere").status == 404);
}

TEST_CASE("/metrics writes its families in the format the Accept header asks for") {
    const auto routes = httpy::admin_router({.metrics = [](httpy::metrics_writer& out) {
        out.gauge("things", "Things.");
        out.value(httpy::label_set(), 2.0);
    }});
    auto text = call(routes, "GET", "/metrics");
    CHECK(header(text, "Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(text.body == "# HELP things Things.\n# TYPE things gauge\nthings 2\n");
    httpy::fields accept;
    accept.add("Accept", "application/openmetrics-text; version=1.0.0");
    auto open = call(routes, "GET", "/metrics", accept);
    CHECK(header(open, "Content-Type").starts_with("application/openmetrics-text"));
    CHECK(open.body.ends_with("# EOF\n"));
}
