#pragma once

#include "httpy/body_file.hpp"

#include <cstdint>
#include <memory>
#include <string_view>

namespace httpy::detail {

/// An unlinked temporary file a large request body is written to as it arrives, so the body
/// costs disk (or page cache) instead of its size in RAM. Made in `$TMPDIR` (else /tmp) with
/// O_TMPFILE where the file system has it, else created and unlinked at once: nothing is left
/// behind whatever happens to the process.
class spool_file {
public:
    spool_file() = default;
    ~spool_file();
    spool_file(const spool_file&) = delete;
    spool_file& operator=(const spool_file&) = delete;

    /// True once a file is open (`append` opens it on first use).
    bool is_open() const noexcept { return fd_ >= 0; }

    /// Appends `data` to the file, opening it first if needed; false when the file cannot be
    /// made or written (errno says why), after which the spool is unusable.
    bool append(std::string_view data) noexcept;

    /// The file as a body (offset 0, every byte appended), which now owns the descriptor.
    /// Requires: is_open().
    std::shared_ptr<body_file> release();

private:
    int fd_ = -1;
    std::uint64_t size_ = 0;
    bool failed_ = false;
};

/// Reads the whole of `file` (its `length()` bytes from `offset()`) into `out`, which has room
/// for them; false on a read error or a file shorter than that.
bool read_body_file(const body_file& file, char* out) noexcept;

} // namespace httpy::detail
