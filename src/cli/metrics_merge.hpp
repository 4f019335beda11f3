#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace httpy {
class metrics_writer;
}

namespace httpy::cli {

/// A metrics page as parsed back from the Prometheus text a worker wrote: its families in order,
/// each with its samples.
struct metrics_page {
    enum class kind { counter, gauge, histogram, untyped };
    struct sample {
        std::string name;   // full, suffix included: "http_requests_total"
        std::string labels; // as between the braces, escaped
        double value = 0;
    };
    struct family {
        std::string name; // as the Prometheus text's TYPE line names it (a counter's with _total)
        kind type = kind::untyped;
        std::string help;
        std::vector<sample> samples;
    };
    std::vector<family> families;

    /// Parses Prometheus text format 0.0.4 (what `metrics_writer` writes); lines it cannot read
    /// are skipped.
    static metrics_page parse(std::string_view text);
};

/// The one page `/metrics` shows for several worker processes: counters and histograms summed
/// over the live workers and every worker that has gone (so no total goes backwards when a
/// worker is replaced), gauges given per worker with a `worker` label (a sum of resident memory
/// or start times would mislead).
class metrics_merge {
public:
    /// Adds a live worker's page: its counters and histograms to the sums, its gauges labelled
    /// `worker="<label>"`.
    void add_live(std::string_view worker, const metrics_page& page);

    /// Adds only the counters and histograms of a worker's page: a worker that did not answer
    /// this scrape (its last page stands for it) or one that has gone.
    void add_totals(const metrics_page& page);

    /// Writes every family in the order first seen, in `out`'s format.
    void write(metrics_writer& out) const;

private:
    struct family {
        metrics_page::kind type = metrics_page::kind::untyped;
        std::string help;
        std::vector<metrics_page::sample> samples;
        std::map<std::string, std::size_t, std::less<>> index; // name{labels} -> samples[i]
    };

    family& family_for(const metrics_page::family& f);
    static void add(family& into, std::string name, std::string labels, double value);

    std::vector<std::string> order_;
    std::map<std::string, family, std::less<>> families_;
};

} // namespace httpy::cli
