#pragma once

#include <cstdint>

namespace httpy {

/// A response body that is a region of an open file, sent by the server with `sendfile` (no
/// copy through user space, no GIL). Owns its descriptor.
class body_file {
public:
    /// Takes ownership of `fd`; the body is `length` bytes from `offset`.
    body_file(int fd, std::uint64_t offset, std::uint64_t length) noexcept
        : fd_(fd), offset_(offset), length_(length) {}
    ~body_file();
    body_file(const body_file&) = delete;
    body_file& operator=(const body_file&) = delete;

    int fd() const noexcept { return fd_; }
    std::uint64_t offset() const noexcept { return offset_; }
    std::uint64_t length() const noexcept { return length_; }

private:
    int fd_;
    std::uint64_t offset_;
    std::uint64_t length_;
};

} // namespace httpy
