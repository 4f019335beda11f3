#pragma once

#include <stdexcept>
#include <string>

namespace httpy {

/// A setup mistake found before serving: a missing module or function, a bad init result, a
/// malformed or conflicting route. The message names the offending item.
class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

} // namespace httpy
