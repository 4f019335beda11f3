#include "cli/metrics_merge.hpp"

#include "httpy/metrics.hpp"

#include <doctest/doctest.h>

#include <string>

using httpy::cli::metrics_merge;
using httpy::cli::metrics_page;

namespace {

// A worker's page as metrics_writer writes it: a counter, a gauge and a histogram.
std::string worker_page(double requests, double open, double slow) {
    httpy::metrics_writer out;
    out.counter("http_requests", "Requests.");
    out.value(httpy::label_set().add("route", "/a").add("status", "200"), requests);
    out.gauge("httpy_connections_open", "Open.");
    out.value(httpy::label_set(), open);
    out.histogram("wait_seconds", "Waits.");
    const double bounds[] = {1.0};
    const std::uint64_t counts[] = {static_cast<std::uint64_t>(requests - slow),
                                    static_cast<std::uint64_t>(slow)};
    out.observations(httpy::label_set().add("route", "/a"), bounds, counts, requests);
    return std::move(out).finish();
}

std::string merged(const metrics_merge& m, httpy::metrics_format format) {
    httpy::metrics_writer out(format);
    m.write(out);
    return std::move(out).finish();
}

bool has(const std::string& page, const std::string& line) {
    return page.find("\n" + line + "\n") != std::string::npos;
}

} // namespace

TEST_CASE("a page parses back into its families, types, help and samples") {
    const auto page = metrics_page::parse(worker_page(5, 2, 1));
    REQUIRE(page.families.size() == 3);
    CHECK(page.families[0].name == "http_requests_total");
    CHECK(page.families[0].type == metrics_page::kind::counter);
    CHECK(page.families[0].help == "Requests.");
    REQUIRE(page.families[0].samples.size() == 1);
    CHECK(page.families[0].samples[0].labels == R"(route="/a",status="200")");
    CHECK(page.families[0].samples[0].value == 5);
    CHECK(page.families[2].type == metrics_page::kind::histogram);
    CHECK(page.families[2].samples.size() == 4); // two buckets, count, sum
}

TEST_CASE("label values holding braces, quotes and spaces parse whole") {
    const auto page = metrics_page::parse("# TYPE x gauge\nx{a=\"} \\\" {\",b=\"c\"} 3\n");
    REQUIRE(page.families.size() == 1);
    REQUIRE(page.families[0].samples.size() == 1);
    CHECK(page.families[0].samples[0].labels == R"(a="} \" {",b="c")");
    CHECK(page.families[0].samples[0].value == 3);
}

TEST_CASE("counters and histograms are summed, gauges labelled by worker") {
    metrics_merge m;
    m.add_live("101", metrics_page::parse(worker_page(5, 2, 1)));
    m.add_live("102", metrics_page::parse(worker_page(7, 3, 0)));
    const auto page = merged(m, httpy::metrics_format::prometheus);
    CHECK(has(page, R"(http_requests_total{route="/a",status="200"} 12)"));
    CHECK(has(page, R"(httpy_connections_open{worker="101"} 2)"));
    CHECK(has(page, R"(httpy_connections_open{worker="102"} 3)"));
    CHECK(has(page, R"(wait_seconds_bucket{route="/a",le="1.0"} 11)"));
    CHECK(has(page, R"(wait_seconds_bucket{route="/a",le="+Inf"} 12)"));
    CHECK(has(page, R"(wait_seconds_count{route="/a"} 12)"));
    CHECK(page.find("# TYPE http_requests_total counter") != std::string::npos);
}

TEST_CASE("a worker counted by its totals alone adds its counters and none of its gauges") {
    metrics_merge m;
    m.add_totals(metrics_page::parse(worker_page(4, 9, 0))); // gone, or did not answer
    m.add_live("7", metrics_page::parse(worker_page(1, 1, 0)));
    const auto page = merged(m, httpy::metrics_format::prometheus);
    CHECK(has(page, R"(http_requests_total{route="/a",status="200"} 5)"));
    CHECK(page.find("} 9\n") == std::string::npos);
    CHECK(has(page, R"(httpy_connections_open{worker="7"} 1)"));
}

TEST_CASE("a merged page can be written as OpenMetrics") {
    metrics_merge m;
    m.add_live("1", metrics_page::parse(worker_page(2, 0, 0)));
    const auto page = merged(m, httpy::metrics_format::openmetrics);
    CHECK(page.find("# TYPE http_requests counter\n") != std::string::npos);
    CHECK(has(page, R"(http_requests_total{route="/a",status="200"} 2)"));
    CHECK(page.ends_with("# EOF\n"));
}
