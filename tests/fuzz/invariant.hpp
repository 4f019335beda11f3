#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace httpy::fuzz {

/// Aborts with `what` on stderr when `condition` is false. A broken invariant is a finding: it
/// must stop the fuzzer (which then saves the input) and fail the replay test, as a sanitizer
/// report does. abort() rather than a throw, so no catch on the way can swallow it.
inline void require(bool condition, std::string_view what) {
    if (condition)
        return;
    std::fprintf(stderr, "fuzz invariant broken: %.*s\n", static_cast<int>(what.size()),
                 what.data());
    std::abort();
}

} // namespace httpy::fuzz
