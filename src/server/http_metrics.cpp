#include "server/http_metrics.hpp"

#include "httpy/method.hpp"
#include "httpy/metrics.hpp"

#include <chrono>

namespace httpy::detail {

std::string_view method_label(std::string_view method) noexcept {
    const auto known = parse_method(method);
    return known ? to_string(*known) : std::string_view("_OTHER");
}

void http_metrics::request_ended(const exchange_record& r) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    const route_view key{method_label(r.method), r.route};
    const double seconds = std::chrono::duration<double>(r.duration).count();
    std::lock_guard lock(mu_);
    auto it = routes_.find(key);
    if (it == routes_.end())
        it = routes_.emplace(route_key{std::string(key.method), std::string(key.route)},
                             route_series{}).first;
    route_series& s = it->second;
    s.duration.observe(duration_bounds, seconds);
    s.request_bytes.observe(size_bounds, static_cast<double>(r.request_body_bytes));
    s.response_bytes.observe(size_bounds, static_cast<double>(r.response_body_bytes));
    for (auto& [status, count] : s.statuses)
        if (status == r.status) {
            ++count;
            return;
        }
    s.statuses.emplace_back(r.status, 1);
}

void http_metrics::bad_request(int status, std::string_view reason) {
    std::lock_guard lock(mu_);
    ++bad_[{status, std::string(reason)}];
}

void http_metrics::write(metrics_writer& out) const {
    write_requests(out);
    write_histograms(out);
    write_refusals(out);
}

void http_metrics::write_requests(metrics_writer& out) const {
    out.counter("http_requests", "HTTP requests answered, by method, matched route and status.");
    {
        std::lock_guard lock(mu_);
        for (const auto& [key, series] : routes_)
            for (const auto& [status, count] : series.statuses)
                out.value(label_set()
                              .add("method", key.method)
                              .add("route", key.route)
                              .add("status", std::to_string(status)),
                          count);
    }
    out.gauge("http_requests_in_flight", "HTTP requests read in full and not yet answered.");
    out.value(label_set(), static_cast<double>(in_flight_.load(std::memory_order_relaxed)));
}

void http_metrics::write_histograms(metrics_writer& out) const {
    std::lock_guard lock(mu_);
    const auto family = [&](const char* name, const char* help, auto counts, const auto& bounds) {
        out.histogram(name, help);
        for (const auto& [key, series] : routes_) {
            const auto& observed = series.*counts;
            out.observations(label_set().add("method", key.method).add("route", key.route),
                             bounds, observed.counts, observed.sum);
        }
    };
    family("http_request_duration_seconds",
           "Time from a request's first byte to its response's last, by method and route.",
           &route_series::duration, duration_bounds);
    family("http_request_body_size_bytes", "Request body sizes, by method and route.",
           &route_series::request_bytes, size_bounds);
    family("http_response_body_size_bytes", "Response body sizes, by method and route.",
           &route_series::response_bytes, size_bounds);
}

void http_metrics::write_refusals(metrics_writer& out) const {
    out.counter("httpy_bad_requests",
                "Requests refused before reaching a handler, by status and reason.");
    {
        std::lock_guard lock(mu_);
        for (const auto& [key, count] : bad_)
            out.value(label_set().add("status", std::to_string(key.first)).add("reason", key.second),
                      count);
    }
    out.counter("httpy_handler_timeouts", "Python calls answered 504: the handler timed out.");
    out.value(label_set(), timeouts_.load(std::memory_order_relaxed));
    out.counter("httpy_overloads", "Python calls answered 503: the Python queue was full.");
    out.value(label_set(), overloads_.load(std::memory_order_relaxed));
}

} // namespace httpy::detail
