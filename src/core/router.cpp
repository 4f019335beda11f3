#include "httpy/router.hpp"

#include "httpy/config_error.hpp"

#include <array>
#include <bitset>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>

// Decisions beyond the header:
// - A catch-all's value keeps its leading '/', as in httprouter: `/static/*filepath` on
//   `/static/css/a.css` gives filepath="/css/a.css", and on `/static/` gives "/".
// - A `:name` parameter never matches an empty segment (`/user/:id` does not match `/user/`).
// - A static segment, a parameter and a catch-all may share a position; matching tries them in
//   that order and backtracks, so the most specific route that fits the whole path wins.

namespace httpy {
namespace {

constexpr std::size_t method_count = static_cast<std::size_t>(method::trace) + 1;
using method_set = std::bitset<method_count>;

std::size_t index_of(method m) {
    return static_cast<std::size_t>(m);
}

[[noreturn]] void fail(std::string_view pattern, std::string_view problem) {
    throw config_error("route \"" + std::string(pattern) + "\": " + std::string(problem));
}

std::string quoted(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

// Splits "/segment/tail" into {"segment", "/tail"}; `rest` starts with '/'. Keeping the slash
// on the tail lets an empty tail mean "no more segments" while "/" means "one empty segment".
std::pair<std::string_view, std::string_view> split_first(std::string_view rest) {
    rest.remove_prefix(1);
    auto slash = rest.find('/');
    if (slash == std::string_view::npos)
        return {rest, {}};
    return {rest.substr(0, slash), rest.substr(slash)};
}

bool is_param(std::string_view segment) {
    return !segment.empty() && segment.front() == ':';
}
bool is_catch_all(std::string_view segment) {
    return !segment.empty() && segment.front() == '*';
}

void check_segment(std::string_view pattern, std::string_view segment, bool last) {
    if (segment.empty() && !last)
        fail(pattern, "empty segment (\"//\"); only the last one (a trailing '/') may be empty");
    auto wildcard = segment.find_first_of(":*");
    if (wildcard == std::string_view::npos)
        return;
    if (wildcard != 0)
        fail(pattern, "wildcard in " + quoted(segment) + " must be a whole segment");
    auto name = segment.substr(1);
    if (name.empty())
        fail(pattern,
             quoted(segment) + " needs a name, e.g. " + quoted(std::string(segment) + "name"));
    if (name.find_first_of(":*") != std::string_view::npos)
        fail(pattern, quoted(segment) + " holds more than one wildcard");
    if (is_catch_all(segment) && !last)
        fail(pattern, "catch-all " + quoted(segment) + " must be the last segment");
}

struct trie_node {
    // The first pattern that went through this node: the "other route" of a conflict message.
    std::string origin;
    // The parameter or catch-all name, for wildcard nodes.
    std::string name;
    // The pattern of the routes that end here (equivalent patterns all name their parameters
    // alike, so one serves every method): route_match::route.
    std::string pattern;
    std::map<std::string, std::unique_ptr<trie_node>, std::less<>> statics;
    std::unique_ptr<trie_node> param;
    std::unique_ptr<trie_node> catch_all;
    std::array<std::optional<route_handler>, method_count> handlers;

    const route_handler* handler_for(method m) const {
        if (handlers[index_of(m)])
            return &*handlers[index_of(m)];
        if (m == method::head && handlers[index_of(method::get)])
            return &*handlers[index_of(method::get)];
        return nullptr;
    }

    method_set methods() const {
        method_set set;
        for (std::size_t i = 0; i < method_count; ++i)
            set[i] = handlers[i].has_value();
        if (set[index_of(method::get)])
            set[index_of(method::head)] = true;
        return set;
    }
};

using node_ptr = std::unique_ptr<trie_node>;

// The wildcard child `segment` leads to, or null when it would be a new one. Throws when the
// child exists under another name.
const trie_node* existing_wildcard(const node_ptr& child, std::string_view pattern,
                                   std::string_view segment) {
    if (!child || child->name == segment.substr(1))
        return child.get();
    auto kind = is_param(segment) ? "parameter " : "catch-all ";
    fail(pattern, kind + quoted(segment) + " conflicts with " +
                      quoted(std::string(1, segment.front()) + child->name) + " of route " +
                      quoted(child->origin));
}

// Walks the existing trie along `pattern` without changing it, so that a rejected pattern
// leaves the router as it was.
void check_conflicts(const trie_node& root, std::string_view pattern, method m) {
    const trie_node* at = &root;
    for (auto rest = pattern; !rest.empty();) {
        auto [segment, tail] = split_first(rest);
        if (is_param(segment))
            at = existing_wildcard(at->param, pattern, segment);
        else if (is_catch_all(segment))
            at = existing_wildcard(at->catch_all, pattern, segment);
        else if (auto it = at->statics.find(segment); it != at->statics.end())
            at = it->second.get();
        else
            at = nullptr;
        if (!at)
            return;
        rest = tail;
    }
    if (at->handlers[index_of(m)])
        fail(pattern, std::string(to_string(m)) + " is already registered on this pattern");
}

trie_node& child_for(node_ptr& child, std::string_view pattern, std::string_view name) {
    if (!child) {
        child = std::make_unique<trie_node>();
        child->origin = pattern;
        child->name = name;
    }
    return *child;
}

trie_node& insert(trie_node& root, std::string_view pattern) {
    trie_node* at = &root;
    for (auto rest = pattern; !rest.empty();) {
        auto [segment, tail] = split_first(rest);
        if (is_param(segment))
            at = &child_for(at->param, pattern, segment.substr(1));
        else if (is_catch_all(segment))
            at = &child_for(at->catch_all, pattern, segment.substr(1));
        else if (auto it = at->statics.find(segment); it != at->statics.end())
            at = it->second.get();
        else
            at = &child_for(at->statics[std::string(segment)], pattern, {});
        rest = tail;
    }
    return *at;
}

struct search {
    std::optional<method> wanted;
    std::vector<std::pair<const std::string*, std::string_view>> captures;
    const route_handler* found = nullptr;
    const std::string* pattern = nullptr;
    method_set allowed;

    // A node the whole path leads to: it wins if it has the method, else it adds to `Allow`.
    bool arrive(const trie_node& n) {
        found = wanted ? n.handler_for(*wanted) : nullptr;
        if (!found)
            allowed |= n.methods();
        pattern = &n.pattern;
        return found != nullptr;
    }

    bool capture_and_visit(const trie_node& child, std::string_view value, std::string_view tail,
                           bool rest_of_path) {
        captures.emplace_back(&child.name, value);
        if (rest_of_path ? arrive(child) : visit(child, tail))
            return true;
        captures.pop_back();
        return false;
    }

    // Depth-first in priority order; recursion depth is bounded by the longest pattern, since
    // it only descends into existing children.
    bool visit(const trie_node& n, std::string_view rest) {
        if (rest.empty())
            return arrive(n);
        auto [segment, tail] = split_first(rest);
        if (auto it = n.statics.find(segment); it != n.statics.end() && visit(*it->second, tail))
            return true;
        if (n.param && !segment.empty() && capture_and_visit(*n.param, segment, tail, false))
            return true;
        return n.catch_all && capture_and_visit(*n.catch_all, rest, {}, true);
    }
};

} // namespace

// The trie lives in the unnamed namespace so that its free helpers may name it; the root is
// the only node the header knows about.
struct router::node : trie_node {};

router::router() : root_(std::make_unique<node>()) {}
router::~router() = default;
router::router(router&&) noexcept = default;
router& router::operator=(router&&) noexcept = default;

void router::add(method m, std::string_view pattern, route_handler handler) {
    check_pattern(pattern);
    if (!root_)
        root_ = std::make_unique<node>();
    check_conflicts(*root_, pattern, m);
    trie_node& end = insert(*root_, pattern);
    if (end.pattern.empty())
        end.pattern = pattern;
    end.handlers[index_of(m)] = std::move(handler);
}

void router::add(const route_table& routes, const route_handler& handler) {
    for (const auto& r : routes.routes())
        for (auto m : r.methods)
            add(m, r.pattern, handler);
}

route_match router::match(std::string_view method_name, std::string_view path) const {
    route_match result = match_routes(method_name, path);
    if (result.status != 200 && fallback_) {
        result = {};
        result.status = 200;
        result.handler = &*fallback_;
        result.route = "*";
    }
    return result;
}

void router::fallback(route_handler handler) { fallback_ = std::move(handler); }

route_match router::match_routes(std::string_view method_name, std::string_view path) const {
    route_match result;
    if (!root_ || path.empty() || path.front() != '/')
        return result;
    search s{parse_method(method_name), {}, nullptr, nullptr, {}};
    if (s.visit(*root_, path)) {
        result.status = 200;
        result.handler = s.found;
        result.route = *s.pattern;
        for (const auto& [name, value] : s.captures)
            result.params.add(*name, value);
        return result;
    }
    for (std::size_t i = 0; i < method_count; ++i)
        if (s.allowed[i])
            result.allowed.push_back(static_cast<method>(i));
    if (!result.allowed.empty())
        result.status = 405;
    return result;
}

void check_pattern(std::string_view pattern) {
    if (pattern.empty() || pattern.front() != '/')
        fail(pattern, "a pattern must start with '/'");
    for (auto rest = pattern; !rest.empty();) {
        auto [segment, tail] = split_first(rest);
        check_segment(pattern, segment, tail.empty());
        rest = tail;
    }
}

} // namespace httpy
