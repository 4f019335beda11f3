#include "server/http_metrics.hpp"

#include "httpy/metrics.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

using httpy::detail::exchange_record;
using httpy::detail::http_metrics;

namespace {

std::string page_of(const http_metrics& m) {
    httpy::metrics_writer out;
    m.write(out);
    return std::move(out).finish();
}

bool has(const std::string& page, const std::string& line) {
    return page.find("\n" + line + "\n") != std::string::npos;
}

exchange_record answered(std::string_view method, std::string_view route, int status,
                         std::chrono::milliseconds took = std::chrono::milliseconds(3)) {
    return {.method = method, .route = route, .status = status, .duration = took};
}

} // namespace

TEST_CASE("requests are counted by method, route and status, with unknown methods as _OTHER") {
    http_metrics m;
    for (int i = 0; i < 3; ++i) {
        m.request_began();
        m.request_ended(answered("GET", "/users/:id", 200));
    }
    m.request_began();
    m.request_ended(answered("GET", "/users/:id", 404));
    m.request_began();
    m.request_ended(answered("BREW", "*", 200));
    const auto page = page_of(m);
    CHECK(has(page, R"(http_requests_total{method="GET",route="/users/:id",status="200"} 3)"));
    CHECK(has(page, R"(http_requests_total{method="GET",route="/users/:id",status="404"} 1)"));
    CHECK(has(page, R"(http_requests_total{method="_OTHER",route="*",status="200"} 1)"));
    CHECK(has(page, "http_requests_in_flight 0"));
}

TEST_CASE("durations fall in the bucket at or above them") {
    http_metrics m;
    m.request_began();
    m.request_ended(answered("GET", "/a", 200, std::chrono::milliseconds(5)));
    m.request_began();
    m.request_ended(answered("GET", "/a", 200, std::chrono::milliseconds(30)));
    m.request_began();
    m.request_ended(answered("GET", "/a", 200, std::chrono::seconds(20)));
    const auto page = page_of(m);
    const std::string labels = R"(method="GET",route="/a")";
    CHECK(has(page, "http_request_duration_seconds_bucket{" + labels + R"(,le="0.005"} 1)"));
    CHECK(has(page, "http_request_duration_seconds_bucket{" + labels + R"(,le="0.025"} 1)"));
    CHECK(has(page, "http_request_duration_seconds_bucket{" + labels + R"(,le="0.05"} 2)"));
    CHECK(has(page, "http_request_duration_seconds_bucket{" + labels + R"(,le="10.0"} 2)"));
    CHECK(has(page, "http_request_duration_seconds_bucket{" + labels + R"(,le="+Inf"} 3)"));
    CHECK(has(page, "http_request_duration_seconds_count{" + labels + "} 3"));
}

TEST_CASE("requests in flight are those begun and not ended") {
    http_metrics m;
    m.request_began();
    m.request_began();
    CHECK(has(page_of(m), "http_requests_in_flight 2"));
    m.request_ended(answered("GET", "/a", 200));
    CHECK(has(page_of(m), "http_requests_in_flight 1"));
}

TEST_CASE("refusals, timeouts and overloads have families even before the first one") {
    http_metrics m;
    auto page = page_of(m);
    CHECK(page.find("# TYPE httpy_bad_requests_total counter") != std::string::npos);
    CHECK(has(page, "httpy_handler_timeouts_total 0"));
    CHECK(has(page, "httpy_overloads_total 0"));
    m.bad_request(431, "header_too_large");
    m.bad_request(431, "header_too_large");
    m.handler_timed_out();
    m.overloaded();
    page = page_of(m);
    CHECK(has(page, R"(httpy_bad_requests_total{status="431",reason="header_too_large"} 2)"));
    CHECK(has(page, "httpy_handler_timeouts_total 1"));
    CHECK(has(page, "httpy_overloads_total 1"));
}

TEST_CASE("requests recorded from several threads are all counted") {
    http_metrics m;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i) {
                m.request_began();
                m.request_ended(answered("POST", "/jobs", 201));
            }
        });
    for (auto& t : threads)
        t.join();
    CHECK(has(page_of(m), R"(http_requests_total{method="POST",route="/jobs",status="201"} 4000)"));
}
