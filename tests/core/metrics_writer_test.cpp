#include "httpy/metrics.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>

using httpy::label_set;
using httpy::metrics_format;
using httpy::metrics_writer;

TEST_CASE("a scrape asking for OpenMetrics gets it; any other gets Prometheus text") {
    CHECK(httpy::metrics_format_for("application/openmetrics-text; version=1.0.0,text/plain;"
                                    "version=0.0.4;q=0.5") == metrics_format::openmetrics);
    CHECK(httpy::metrics_format_for("text/plain") == metrics_format::prometheus);
    CHECK(httpy::metrics_format_for("") == metrics_format::prometheus);
    CHECK(httpy::content_type_of(metrics_format::prometheus) ==
          "text/plain; version=0.0.4; charset=utf-8");
    CHECK(httpy::content_type_of(metrics_format::openmetrics) ==
          "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

TEST_CASE("label values escape backslash, double quote and newline") {
    label_set labels;
    labels.add("a", "x\\y").add("b", "say \"hi\"\nbye");
    CHECK(std::string(labels.text()) == R"(a="x\\y",b="say \"hi\"\nbye")");
}

TEST_CASE("a counter family is named with _total in Prometheus text, without in OpenMetrics") {
    metrics_writer prometheus(metrics_format::prometheus);
    prometheus.counter("jobs", "Jobs done.");
    prometheus.value(label_set().add("kind", "a"), std::uint64_t{3});
    CHECK(std::move(prometheus).finish() ==
          "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total{kind=\"a\"} 3\n");

    metrics_writer openmetrics(metrics_format::openmetrics);
    openmetrics.counter("jobs", "Jobs done.");
    openmetrics.value(label_set(), 1.5);
    CHECK(std::move(openmetrics).finish() ==
          "# HELP jobs Jobs done.\n# TYPE jobs counter\njobs_total 1.5\n# EOF\n");
}

TEST_CASE("a gauge sample has no suffix and help text escapes newlines") {
    metrics_writer out;
    out.gauge("depth", "Line one\nline two \\ end");
    out.value(label_set(), 0.25);
    CHECK(std::move(out).finish() ==
          "# HELP depth Line one\\nline two \\\\ end\n# TYPE depth gauge\ndepth 0.25\n");
}

TEST_CASE("a histogram's buckets are cumulative, end with +Inf and bounds read as floats") {
    metrics_writer out;
    out.histogram("wait_seconds", "Waits.");
    constexpr std::array<double, 2> bounds{0.5, 10};
    constexpr std::array<std::uint64_t, 3> counts{2, 3, 1};
    out.observations(label_set().add("q", "x"), bounds, counts, 12.5);
    CHECK(std::move(out).finish() == "# HELP wait_seconds Waits.\n"
                                     "# TYPE wait_seconds histogram\n"
                                     "wait_seconds_bucket{q=\"x\",le=\"0.5\"} 2\n"
                                     "wait_seconds_bucket{q=\"x\",le=\"10.0\"} 5\n"
                                     "wait_seconds_bucket{q=\"x\",le=\"+Inf\"} 6\n"
                                     "wait_seconds_count{q=\"x\"} 6\n"
                                     "wait_seconds_sum{q=\"x\"} 12.5\n");
}

TEST_CASE("the process metrics name this process's memory, descriptors and start time") {
    metrics_writer out;
    httpy::write_process_metrics(out);
    const std::string page = std::move(out).finish();
    for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                             "process_virtual_memory_bytes ", "process_start_time_seconds ",
                             "process_open_fds ", "process_max_fds "})
        CHECK_MESSAGE(page.find(std::string("\n") + name) != std::string::npos, name);
}
