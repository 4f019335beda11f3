#include "marshal/spooled_body.hpp"

#include <pybind11/pybind11.h>

#include "marshal/python_text.hpp"

#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

namespace httpy::marshal {

pybind11::object open_spooled_body(const body_file& spool) {
    const int fd = ::fcntl(spool.fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0 || ::lseek(fd, static_cast<off_t>(spool.offset()), SEEK_SET) < 0) {
        const int error = errno;
        if (fd >= 0)
            ::close(fd);
        throw std::system_error(error, std::generic_category(),
                                "the spooled request body could not be opened");
    }
    PyObject* file = PyFile_FromFd(fd, nullptr, "rb", -1, nullptr, nullptr, nullptr, 1);
    if (file == nullptr)
        ::close(fd);
    return detail::steal_or_throw(file);
}

} // namespace httpy::marshal
