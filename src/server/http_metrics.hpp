#pragma once

#include "server/exchange_record.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace httpy {
class metrics_writer;
}

namespace httpy::detail {

/// Observations of a fixed set of bucket bounds: counts per bucket (not cumulative) and the sum.
template <std::size_t Bounds>
struct bucket_counts {
    std::array<std::uint64_t, Bounds + 1> counts{};
    double sum = 0;

    void observe(const std::array<double, Bounds>& bounds, double v) {
        std::size_t i = 0;
        while (i < Bounds && v > bounds[i])
            ++i;
        ++counts[i];
        sum += v;
    }
};

/// The request metrics of one server: what `/metrics` reports as `http_*` and `httpy_*` beside
/// the gauges read at scrape time. Thread-safe; recording is a short critical section with no
/// allocation once a (method, route) pair has been seen.
class http_metrics {
public:
    /// Request duration buckets, seconds: the Prometheus client libraries' defaults (and
    /// OpenTelemetry's old ones), 5 ms to 10 s.
    static constexpr std::array<double, 11> duration_bounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5,   1,    2.5,   5,    10};
    /// Body size buckets, bytes: powers of ten from 100 B to 10 MB.
    static constexpr std::array<double, 6> size_bounds{100, 1e3, 1e4, 1e5, 1e6, 1e7};

    /// A request has been read in full and goes to its handler.
    void request_began() noexcept { in_flight_.fetch_add(1, std::memory_order_relaxed); }

    /// The request `request_began` counted has been answered: counts it by method, route and
    /// status, and its duration and body sizes by method and route.
    void request_ended(const exchange_record& r);

    /// A request refused before it reached a handler, by status and a fixed reason name (the
    /// response itself is counted by `request_ended`'s families only when it went through one).
    void bad_request(int status, std::string_view reason);

    /// A Python call answered 504 because its handler ran past its timeout.
    void handler_timed_out() noexcept { timeouts_.fetch_add(1, std::memory_order_relaxed); }

    /// A Python call answered 503 because the queue for Python threads was full.
    void overloaded() noexcept { overloads_.fetch_add(1, std::memory_order_relaxed); }

    /// Writes every family, including the ones with no sample yet.
    void write(metrics_writer& out) const;

private:
    struct route_key {
        std::string method;
        std::string route;
    };
    struct key_less {
        using is_transparent = void;
        template <class A, class B>
        bool operator()(const A& a, const B& b) const {
            return std::tie(a.method, a.route) < std::tie(b.method, b.route);
        }
    };
    struct route_view {
        std::string_view method;
        std::string_view route;
    };
    struct route_series {
        bucket_counts<duration_bounds.size()> duration;
        bucket_counts<size_bounds.size()> request_bytes;
        bucket_counts<size_bounds.size()> response_bytes;
        std::vector<std::pair<int, std::uint64_t>> statuses; // by status, in the order first seen
    };

    void write_requests(metrics_writer& out) const;
    void write_histograms(metrics_writer& out) const;
    void write_refusals(metrics_writer& out) const;

    mutable std::mutex mu_;
    std::map<route_key, route_series, key_less> routes_;                // guarded by mu_
    std::map<std::pair<int, std::string>, std::uint64_t> bad_; // guarded by mu_
    std::atomic<std::int64_t> in_flight_{0};
    std::atomic<std::uint64_t> timeouts_{0};
    std::atomic<std::uint64_t> overloads_{0};
};

/// The method as a metrics label: one of the methods the router knows, or "_OTHER" (as
/// OpenTelemetry names it), so a client cannot grow the series without bound.
std::string_view method_label(std::string_view method) noexcept;

} // namespace httpy::detail
