#include "httpy/admin.hpp"

#include "httpy/metrics.hpp"
#include "httpy/request.hpp"
#include "httpy/response.hpp"

#include <chrono>
#include <memory>
#include <utility>

namespace httpy {

namespace {

response text_response(int status, std::string body, std::string_view content_type) {
    response r{status, std::move(body), {}};
    r.headers.add("Content-Type", content_type);
    // A probe or a scrape must see the process as it is now, never a cached answer.
    r.headers.add("Cache-Control", "no-store");
    return r;
}

} // namespace

router admin_router(admin_probes probes) {
    auto shared = std::make_shared<const admin_probes>(std::move(probes));
    router routes;
    routes.get("/metrics", [shared](const request& req) {
        const auto* accept = req.headers.find("Accept");
        const metrics_format format = metrics_format_for(accept && !accept->empty()
                                                             ? std::string_view(accept->front())
                                                             : std::string_view());
        metrics_writer page(format);
        if (shared->metrics)
            shared->metrics(page);
        return text_response(200, std::move(page).finish(), content_type_of(format));
    });
    routes.get("/healthz", [](const request&) {
        return text_response(200, "ok\n", "text/plain; charset=utf-8");
    });
    routes.get("/readyz", [shared](const request&) {
        auto reason = shared->not_ready ? shared->not_ready() : std::nullopt;
        if (reason)
            return text_response(503, *reason + "\n", "text/plain; charset=utf-8");
        return text_response(200, "ready\n", "text/plain; charset=utf-8");
    });
    return routes;
}

server_options admin_server_options(std::string host, unsigned short port) {
    server_options o;
    o.host = std::move(host);
    o.port = port;
    o.max_connections = 64;
    o.max_body_bytes = 0;
    o.header_timeout = std::chrono::seconds(5);
    o.body_timeout = std::chrono::seconds(5);
    o.idle_timeout = std::chrono::seconds(30);
    o.write_timeout = std::chrono::seconds(5);
    o.drain_timeout = std::chrono::seconds(1);
    return o;
}

} // namespace httpy
