#include "httpy/route_table.hpp"

#include "httpy/config_error.hpp"
#include "httpy/router.hpp"

#include <algorithm>
#include <string_view>

namespace httpy {
namespace {

// pattern -> methods, kept sorted by pattern so that both input forms give the same table.
using method_lists = std::map<std::string, std::vector<method>>;

[[noreturn]] void fail(std::string_view what, std::string_view problem) {
    throw config_error(std::string(what) + ": " + std::string(problem));
}

std::string route_name(std::string_view pattern) {
    return "route \"" + std::string(pattern) + "\"";
}

bool is_pattern(const std::string& text) {
    return !text.empty() && text.front() == '/';
}

bool all_keys_are_methods(const raw_routes& raw) {
    return std::all_of(raw.begin(), raw.end(),
                       [](const auto& entry) { return parse_method(entry.first).has_value(); });
}

bool all_values_are_pattern_lists(const raw_routes& raw) {
    return std::all_of(raw.begin(), raw.end(), [](const auto& entry) {
        const auto& patterns = entry.second;
        return !patterns.empty() && std::all_of(patterns.begin(), patterns.end(), is_pattern);
    });
}

method parse_method_of(std::string_view pattern, const std::string& name) {
    if (auto m = parse_method(name))
        return *m;
    fail(route_name(pattern), "unknown method \"" + name +
                                  "\" (methods are upper-case: GET, HEAD, POST, PUT, PATCH, "
                                  "DELETE, OPTIONS, CONNECT, TRACE)");
}

void add_method(method_lists& lists, const std::string& pattern, method m) {
    auto& methods = lists[pattern];
    if (std::find(methods.begin(), methods.end(), m) != methods.end())
        fail(route_name(pattern), "method \"" + std::string(to_string(m)) + "\" listed twice");
    methods.push_back(m);
}

method_lists by_pattern(const raw_routes& raw) {
    method_lists lists;
    for (const auto& [pattern, names] : raw) {
        check_pattern(pattern);
        if (names.empty())
            fail(route_name(pattern), "empty method list (give at least one, e.g. [\"GET\"])");
        for (const auto& name : names)
            add_method(lists, pattern, parse_method_of(pattern, name));
    }
    return lists;
}

method_lists by_method(const raw_routes& raw) {
    method_lists lists;
    for (const auto& [name, patterns] : raw)
        for (const auto& pattern : patterns) {
            check_pattern(pattern);
            add_method(lists, pattern, *parse_method(name));
        }
    return lists;
}

// Every key being a method name rules out the pattern -> methods form (patterns start with
// '/'), so a bad value is reported as what it most likely is: a slip in the inverted form.
[[noreturn]] void fail_inverted(const raw_routes& raw) {
    for (const auto& [name, patterns] : raw) {
        auto what = "method \"" + name + "\"";
        if (patterns.empty())
            fail(what, "empty route list (give at least one pattern, e.g. [\"/\"])");
        for (const auto& pattern : patterns)
            if (!is_pattern(pattern))
                fail(what, "\"" + pattern + "\" is not a route pattern (patterns start with '/')");
    }
    fail("routes", "unreadable method -> routes mapping");
}

} // namespace

route_table route_table::parse(const raw_routes& raw) {
    bool inverted = !raw.empty() && all_keys_are_methods(raw);
    if (inverted && !all_values_are_pattern_lists(raw))
        fail_inverted(raw);
    auto lists = inverted ? by_method(raw) : by_pattern(raw);

    route_table table;
    for (auto& [pattern, methods] : lists) {
        std::sort(methods.begin(), methods.end());
        table.routes_.push_back({pattern, std::move(methods)});
    }
    // A trial registration reports conflicts between routes (`/a/:x` beside `/a/:y/b`) here,
    // at parse time, rather than when the application registers the table.
    router trial;
    for (const auto& r : table.routes_)
        for (auto m : r.methods)
            trial.add(m, r.pattern, native_handler{});
    return table;
}

} // namespace httpy
