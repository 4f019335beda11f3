#pragma once

#include <cstddef>

namespace httpy::cli {

/// Raises this process's soft limit on open files to its hard limit, as Go's runtime does at
/// start: every connection is a descriptor, and the usual soft default of 1024 would stop the
/// server near a thousand clients while the hard limit allows far more. Logs a warning when the
/// limit stays below `connections` (the connection limit): accept then fails with "Too many open
/// files" before that limit is reached.
/// Returns: the soft limit now in force (0 when it cannot be read).
std::size_t raise_open_file_limit(std::size_t connections);

} // namespace httpy::cli
