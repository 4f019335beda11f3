#include "cli/fd_limit.hpp"

#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace httpy::cli {

std::size_t raise_open_file_limit(std::size_t connections) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return 0;
    if (limit.rlim_cur < limit.rlim_max) {
        const rlim_t before = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
            spdlog::warn("cannot raise the open-file limit from {} to {}: {}", before,
                         limit.rlim_max, std::strerror(errno));
            limit.rlim_cur = before;
        }
    }
    // Each connection takes one descriptor; the listener, logs and Python take a few dozen more.
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < connections + 64)
        spdlog::warn("the open-file limit ({}) is below --max-connections ({}): connections beyond "
                     "it wait in the listen backlog until others close",
                     limit.rlim_cur, connections);
    return static_cast<std::size_t>(limit.rlim_cur);
}

} // namespace httpy::cli
