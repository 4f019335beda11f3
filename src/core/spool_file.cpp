#include "core/spool_file.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace httpy::detail {

namespace {

std::string temp_folder() {
    const char* dir = std::getenv("TMPDIR");
    return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

int open_unlinked(const std::string& folder) noexcept {
#ifdef O_TMPFILE
    const int fd = ::open(folder.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
#endif
    std::string path = folder + "/httpy-body-XXXXXX";
    const int fd2 = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd2 >= 0)
        ::unlink(path.c_str());
    return fd2;
}

} // namespace

spool_file::~spool_file() {
    if (fd_ >= 0)
        ::close(fd_);
}

bool spool_file::append(std::string_view data) noexcept {
    if (failed_)
        return false;
    if (fd_ < 0) {
        try {
            fd_ = open_unlinked(temp_folder());
        } catch (...) {
            errno = ENOMEM;
        }
        if (fd_ < 0) {
            failed_ = true;
            return false;
        }
    }
    while (!data.empty()) {
        const ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(size_));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            failed_ = true;
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
        size_ += static_cast<std::uint64_t>(n);
    }
    return true;
}

std::shared_ptr<body_file> spool_file::release() {
    auto file = std::make_shared<body_file>(fd_, 0, size_);
    fd_ = -1;
    size_ = 0;
    return file;
}

bool read_body_file(const body_file& file, char* out) noexcept {
    std::uint64_t done = 0;
    while (done < file.length()) {
        const ssize_t n = ::pread(file.fd(), out + done, static_cast<std::size_t>(file.length() - done),
                                  static_cast<off_t>(file.offset() + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += static_cast<std::uint64_t>(n);
    }
    return true;
}

} // namespace httpy::detail
