#include "cli/metrics_merge.hpp"

#include "httpy/metrics.hpp"

#include <cstdlib>
#include <string>

namespace httpy::cli {

namespace {

std::string unescape_help(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size()) {
            out += text[i + 1] == 'n' ? '\n' : text[i + 1];
            ++i;
        } else {
            out += text[i];
        }
    }
    return out;
}

metrics_page::kind kind_named(std::string_view name) {
    if (name == "counter")
        return metrics_page::kind::counter;
    if (name == "gauge")
        return metrics_page::kind::gauge;
    if (name == "histogram")
        return metrics_page::kind::histogram;
    return metrics_page::kind::untyped;
}

// "# HELP name text" or "# TYPE name kind": the name and the rest.
std::pair<std::string_view, std::string_view> name_and_rest(std::string_view line) {
    const auto space = line.find(' ');
    if (space == std::string_view::npos)
        return {line, {}};
    return {line.substr(0, space), line.substr(space + 1)};
}

// A sample line, "name{labels} value", with quotes (and escapes inside them) in the labels.
bool parse_sample(std::string_view line, metrics_page::sample& out) {
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
        ++i;
    out.name = line.substr(0, i);
    out.labels.clear();
    if (i < line.size() && line[i] == '{') {
        const std::size_t start = ++i;
        bool quoted = false;
        for (; i < line.size() && (quoted || line[i] != '}'); ++i) {
            if (quoted && line[i] == '\\')
                ++i;
            else if (line[i] == '"')
                quoted = !quoted;
        }
        if (i >= line.size())
            return false;
        out.labels = line.substr(start, i - start);
        ++i;
    }
    const std::string value(line.substr(i));
    char* end = nullptr;
    out.value = std::strtod(value.c_str(), &end);
    return !out.name.empty() && end != value.c_str();
}

} // namespace

metrics_page metrics_page::parse(std::string_view text) {
    metrics_page page;
    while (!text.empty()) {
        const auto eol = text.find('\n');
        const std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
        if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
            const auto [name, rest] = name_and_rest(line.substr(7));
            if (page.families.empty() || page.families.back().name != name)
                page.families.push_back({.name = std::string(name)});
            if (line[2] == 'H')
                page.families.back().help = unescape_help(rest);
            else
                page.families.back().type = kind_named(rest);
            continue;
        }
        if (line.empty() || line.front() == '#' || page.families.empty())
            continue;
        sample s;
        if (parse_sample(line, s))
            page.families.back().samples.push_back(std::move(s));
    }
    return page;
}

metrics_merge::family& metrics_merge::family_for(const metrics_page::family& f) {
    auto it = families_.find(f.name);
    if (it == families_.end()) {
        order_.push_back(f.name);
        it = families_.emplace(f.name, family{.type = f.type, .help = f.help}).first;
    }
    return it->second;
}

void metrics_merge::add(family& into, std::string name, std::string labels, double value) {
    std::string key = name + '{' + labels + '}';
    if (const auto it = into.index.find(key); it != into.index.end()) {
        into.samples[it->second].value += value;
        return;
    }
    into.index.emplace(std::move(key), into.samples.size());
    into.samples.push_back({std::move(name), std::move(labels), value});
}

void metrics_merge::add_live(std::string_view worker, const metrics_page& page) {
    add_totals(page);
    for (const auto& f : page.families) {
        if (f.type != metrics_page::kind::gauge)
            continue;
        family& into = family_for(f);
        for (const auto& s : f.samples) {
            std::string labels(label_set().add("worker", worker).text());
            if (!s.labels.empty())
                labels += ',' + s.labels;
            add(into, s.name, std::move(labels), s.value);
        }
    }
}

void metrics_merge::add_totals(const metrics_page& page) {
    for (const auto& f : page.families) {
        if (f.type == metrics_page::kind::gauge)
            continue;
        family& into = family_for(f);
        for (const auto& s : f.samples)
            add(into, s.name, s.labels, s.value);
    }
}

void metrics_merge::write(metrics_writer& out) const {
    for (const auto& name : order_) {
        const family& f = families_.at(name);
        switch (f.type) {
        case metrics_page::kind::counter: {
            std::string_view base = name;
            if (base.ends_with("_total"))
                base.remove_suffix(6);
            out.counter(base, f.help);
            break;
        }
        case metrics_page::kind::histogram:
            out.histogram(name, f.help);
            break;
        default:
            out.gauge(name, f.help);
        }
        for (const auto& s : f.samples)
            out.sample(s.name, s.labels, s.value);
    }
}

} // namespace httpy::cli
