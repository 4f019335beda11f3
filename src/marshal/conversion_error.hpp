#pragma once

#include <stdexcept>
#include <string>

namespace httpy::marshal {

/// A Python value that does not have the shape the contract requires. The message names the
/// function, the location and the types, e.g.
/// `go_request returned headers["X-Test"][0] of type int; expected str`.
/// It is rendered while the GIL is held, so it can be read and logged anywhere.
class conversion_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

} // namespace httpy::marshal
