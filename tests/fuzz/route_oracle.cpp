#include "tests/fuzz/route_oracle.hpp"

#include <algorithm>
#include <bitset>
#include <optional>

namespace httpy::fuzz {
namespace {

// Segment kinds in the order they win.
enum class kind { fixed, param, catch_all };

struct pattern_match {
    std::vector<kind> rank;
    fields params;
};

// "/a/b" -> {"a", "b"}; "/" -> {""}; "/a/" -> {"a", ""}.
std::vector<std::string_view> segments(std::string_view path) {
    std::vector<std::string_view> out;
    std::size_t start = 1;
    for (;;) {
        const std::size_t slash = path.find('/', start);
        out.push_back(path.substr(start, slash - start));
        if (slash == std::string_view::npos)
            return out;
        start = slash + 1;
    }
}

std::optional<pattern_match> match_pattern(std::string_view pattern, std::string_view path) {
    const auto wanted = segments(pattern);
    const auto given = segments(path);
    pattern_match m;
    std::size_t offset = 0; // where given[i] starts in path, minus its leading '/'
    for (std::size_t i = 0; i < wanted.size(); ++i) {
        const std::string_view w = wanted[i];
        if (i >= given.size())
            return std::nullopt;
        if (w.starts_with('*')) { // the rest of the path, leading '/' included
            m.rank.push_back(kind::catch_all);
            m.params.add(w.substr(1), path.substr(offset));
            return m;
        }
        if (w.starts_with(':')) {
            if (given[i].empty())
                return std::nullopt;
            m.rank.push_back(kind::param);
            m.params.add(w.substr(1), given[i]);
        } else {
            if (w != given[i])
                return std::nullopt;
            m.rank.push_back(kind::fixed);
        }
        offset += 1 + given[i].size();
    }
    if (wanted.size() != given.size())
        return std::nullopt;
    return m;
}

bool accepts(const route& r, std::optional<method> m) {
    const auto has = [&r](method x) {
        return std::find(r.methods.begin(), r.methods.end(), x) != r.methods.end();
    };
    return m && (has(*m) || (*m == method::head && has(method::get)));
}

} // namespace

expected_route expect_route(const route_table& table, std::string_view method_name,
                            std::string_view path) {
    expected_route out;
    if (path.empty() || path.front() != '/')
        return out;
    const std::optional<method> wanted = parse_method(method_name);
    std::optional<pattern_match> best;
    std::bitset<static_cast<std::size_t>(method::trace) + 1> allowed;
    for (const route& r : table.routes()) {
        auto m = match_pattern(r.pattern, path);
        if (!m)
            continue;
        for (method x : r.methods)
            allowed.set(static_cast<std::size_t>(x));
        if (accepts(r, wanted) && (!best || m->rank < best->rank)) {
            best = std::move(m);
            out.pattern = r.pattern;
        }
    }
    if (best) {
        out.status = 200;
        out.params = std::move(best->params);
        return out;
    }
    if (allowed.test(static_cast<std::size_t>(method::get)))
        allowed.set(static_cast<std::size_t>(method::head));
    for (std::size_t i = 0; i < allowed.size(); ++i)
        if (allowed.test(i))
            out.allowed.push_back(static_cast<method>(i));
    out.status = out.allowed.empty() ? 404 : 405;
    return out;
}

} // namespace httpy::fuzz
