#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace httpy {

/// The two text formats a `/metrics` page is written in.
enum class metrics_format {
    /// Prometheus' text format 0.0.4, what every scraper reads.
    prometheus,
    /// OpenMetrics 1.0 text, for scrapers that ask for it.
    openmetrics,
};

/// The format a scrape's `Accept` header asks for: OpenMetrics when it names
/// `application/openmetrics-text`, else Prometheus text.
metrics_format metrics_format_for(std::string_view accept) noexcept;

/// The `Content-Type` of a page in `format`.
std::string_view content_type_of(metrics_format format) noexcept;

/// The labels of one sample, `name="value",...`, with the values escaped as both formats want
/// (backslash, double quote, newline).
class label_set {
public:
    label_set() = default;

    /// Adds a label. Requires: `name` is a valid label name.
    label_set& add(std::string_view name, std::string_view value);

    /// The labels as they go between the braces; empty for none.
    std::string_view text() const noexcept { return text_; }

private:
    std::string text_;
};

/// Writes a metrics page, family by family: start a family (`counter`, `gauge`, `histogram`),
/// then give its samples. Names follow the Prometheus conventions; a counter's family name is
/// given without `_total`, which the writer appends where each format wants it.
class metrics_writer {
public:
    explicit metrics_writer(metrics_format format = metrics_format::prometheus);

    /// Starts a family of counters, gauges or histograms, with its help text.
    void counter(std::string_view name, std::string_view help);
    void gauge(std::string_view name, std::string_view help);
    void histogram(std::string_view name, std::string_view help);

    /// One counter or gauge sample of the family started last.
    void value(const label_set& labels, double v);
    void value(const label_set& labels, std::uint64_t v);

    /// One histogram of the family started last: `counts[i]` observations at or below
    /// `bounds[i]` and above the bound before (not cumulative), the last entry of `counts` those
    /// above every bound, and the sum of every observation.
    /// Requires: `counts.size() == bounds.size() + 1`; `bounds` ascending.
    void observations(const label_set& labels, std::span<const double> bounds,
                      std::span<const std::uint64_t> counts, double sum);

    /// One sample of the family started last by its full name, suffix included
    /// ("http_requests_total", "..._bucket"), with its labels as they go between the braces:
    /// for a page merged from other pages (worker processes'), whose samples come as written.
    void sample(std::string_view name, std::string_view labels, double v);

    /// The page (OpenMetrics' closing `# EOF` included).
    std::string finish() &&;

    metrics_format format() const noexcept { return format_; }

private:
    enum class kind { counter, gauge, histogram };
    void start(std::string_view name, kind k, std::string_view help);
    void sample_name(std::string_view suffix, std::string_view labels);
    void sample_head(std::string_view name, std::string_view suffix, std::string_view labels);

    metrics_format format_;
    kind kind_ = kind::gauge;
    std::string name_;
    std::string out_;
};

/// Writes the standard `process_*` metrics of this process (as Prometheus' client libraries name
/// them): resident and virtual memory, CPU seconds, open and most file descriptors, start time.
/// Read from /proc; a value that cannot be read is left out.
void write_process_metrics(metrics_writer& out);

} // namespace httpy
