#pragma once

#include "httpy/method.hpp"

#include <map>
#include <string>
#include <vector>

namespace httpy {

/// The mapping returned by `go_init`, as given: route pattern -> method names, or (the
/// inverted form) method name -> route patterns.
using raw_routes = std::map<std::string, std::vector<std::string>>;

/// One route: an httprouter pattern (`/hello/:target`, `/static/*filepath`) and its methods.
struct route {
    std::string pattern;
    std::vector<method> methods;

    friend bool operator==(const route&, const route&) = default;
};

/// The typed routes of an application, checked and ordered by pattern.
class route_table {
public:
    route_table() = default;

    /// Parses `raw` in either form (pattern -> methods, or method -> patterns when every key is
    /// a method name and every value a list of patterns starting with '/').
    /// Throws: config_error naming the route for an unknown method, a malformed pattern, an
    /// empty method list or a duplicated method.
    static route_table parse(const raw_routes& raw);

    const std::vector<route>& routes() const noexcept { return routes_; }
    bool empty() const noexcept { return routes_.empty(); }

private:
    std::vector<route> routes_;
};

} // namespace httpy
