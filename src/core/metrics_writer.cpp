#include "httpy/metrics.hpp"

#include <charconv>
#include <cmath>

namespace httpy {

namespace {

constexpr std::string_view openmetrics_type = "application/openmetrics-text";

// Numbers as both formats read them: integers without a fraction, others in the shortest form
// that reads back exactly, and the infinities and NaN by their names.
void append_number(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
        return;
    }
    char digits[32];
    const auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
    out.append(digits, end);
}

void append_number(std::string& out, std::uint64_t v) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
    out.append(digits, end);
}

// A bucket bound as the `le` label: always with a fraction ("10.0"), the canonical form
// OpenMetrics asks for and prometheus_client writes.
std::string bound_label(double bound) {
    std::string text;
    append_number(text, bound);
    if (text.find_first_of(".eInN") == std::string::npos)
        text += ".0";
    return text;
}

} // namespace

metrics_format metrics_format_for(std::string_view accept) noexcept {
    return accept.find(openmetrics_type) != std::string_view::npos ? metrics_format::openmetrics
                                                                   : metrics_format::prometheus;
}

std::string_view content_type_of(metrics_format format) noexcept {
    return format == metrics_format::openmetrics
               ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
               : "text/plain; version=0.0.4; charset=utf-8";
}

label_set& label_set::add(std::string_view name, std::string_view value) {
    if (!text_.empty())
        text_ += ',';
    text_ += name;
    text_ += "=\"";
    for (const char c : value) {
        if (c == '\\' || c == '"')
            text_ += '\\';
        if (c == '\n')
            text_ += "\\n";
        else
            text_ += c;
    }
    text_ += '"';
    return *this;
}

metrics_writer::metrics_writer(metrics_format format) : format_(format) {}

void metrics_writer::counter(std::string_view name, std::string_view help) {
    start(name, kind::counter, help);
}

void metrics_writer::gauge(std::string_view name, std::string_view help) {
    start(name, kind::gauge, help);
}

void metrics_writer::histogram(std::string_view name, std::string_view help) {
    start(name, kind::histogram, help);
}

// Prometheus text names a counter family by its samples' name (with `_total`), OpenMetrics
// without it; help text escapes backslash and newline in both.
void metrics_writer::start(std::string_view name, kind k, std::string_view help) {
    kind_ = k;
    name_ = name;
    std::string family(name);
    if (k == kind::counter && format_ == metrics_format::prometheus)
        family += "_total";
    out_ += "# HELP ";
    out_ += family;
    out_ += ' ';
    for (const char c : help) {
        if (c == '\\')
            out_ += "\\\\";
        else if (c == '\n')
            out_ += "\\n";
        else
            out_ += c;
    }
    out_ += "\n# TYPE ";
    out_ += family;
    out_ += k == kind::counter ? " counter\n" : k == kind::gauge ? " gauge\n" : " histogram\n";
}

void metrics_writer::sample_name(std::string_view suffix, std::string_view labels) {
    sample_head(name_, suffix, labels);
}

void metrics_writer::sample_head(std::string_view name, std::string_view suffix,
                                 std::string_view labels) {
    out_ += name;
    out_ += suffix;
    if (!labels.empty()) {
        out_ += '{';
        out_ += labels;
        out_ += '}';
    }
    out_ += ' ';
}

void metrics_writer::value(const label_set& labels, double v) {
    sample_name(kind_ == kind::counter ? "_total" : "", labels.text());
    append_number(out_, v);
    out_ += '\n';
}

void metrics_writer::value(const label_set& labels, std::uint64_t v) {
    sample_name(kind_ == kind::counter ? "_total" : "", labels.text());
    append_number(out_, v);
    out_ += '\n';
}

void metrics_writer::sample(std::string_view name, std::string_view labels, double v) {
    sample_head(name, "", labels);
    append_number(out_, v);
    out_ += '\n';
}

void metrics_writer::observations(const label_set& labels, std::span<const double> bounds,
                                  std::span<const std::uint64_t> counts, double sum) {
    std::uint64_t cumulative = 0;
    std::string with_le(labels.text());
    const std::size_t base = with_le.size();
    for (std::size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        with_le.resize(base);
        with_le += base == 0 ? "le=\"" : ",le=\"";
        with_le += i < bounds.size() ? bound_label(bounds[i]) : "+Inf";
        with_le += '"';
        sample_name("_bucket", with_le);
        append_number(out_, cumulative);
        out_ += '\n';
    }
    sample_name("_count", labels.text());
    append_number(out_, cumulative);
    out_ += '\n';
    sample_name("_sum", labels.text());
    append_number(out_, sum);
    out_ += '\n';
}

std::string metrics_writer::finish() && {
    if (format_ == metrics_format::openmetrics)
        out_ += "# EOF\n";
    return std::move(out_);
}

} // namespace httpy
