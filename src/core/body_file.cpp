#include "httpy/body_file.hpp"

#include <unistd.h>

namespace httpy {

body_file::~body_file() {
    if (fd_ >= 0)
        ::close(fd_);
}

} // namespace httpy
