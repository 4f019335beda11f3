#include "runtime/wsgi_support.hpp"

#include <pybind11/eval.h>
#include <pybind11/pybind11.h>

#include "marshal/python_text.hpp"
#include "marshal/wsgi_response.hpp"
#include "runtime/start_response.hpp"

#include <spdlog/spdlog.h>

namespace py = pybind11;

namespace httpy::detail {

namespace {

constexpr const char* wsgi_source = R"(
import io
import os
import stat
import threading


class Errors:
    def __init__(self, log):
        self._log = log
        self._partial = {}

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError(f"wsgi.errors.write() takes str, not {type(s).__name__}")
        key = threading.get_ident()
        *lines, rest = (self._partial.pop(key, "") + s).split("\n")
        for line in lines:
            self._log(line)
        if rest:
            self._partial[key] = rest
        return len(s)

    def writelines(self, seq):
        for s in seq:
            self.write(s)

    def flush(self):
        rest = self._partial.pop(threading.get_ident(), None)
        if rest:
            self._log(rest)


class FileWrapper:
    __slots__ = ("filelike", "blksize", "close")

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


def file_region(wrapper):
    f = wrapper.filelike
    if isinstance(f, io.TextIOBase):
        return None
    try:
        fd = f.fileno()
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        offset = f.tell()
    except (AttributeError, OSError, ValueError):
        return None
    if not isinstance(offset, int) or offset < 0 or offset > st.st_size:
        return None
    return os.dup(fd), offset, st.st_size - offset
)";

} // namespace

void take_written(py::handle start_response, std::string& out, std::size_t& total,
                  std::size_t max) {
    py::object written = take_written_list(start_response);
    if (written.is_none())
        return;
    for (py::handle piece : written)
        marshal::append_wsgi_chunk(piece, out, total, max);
}

wsgi_support make_wsgi_support() {
    py::dict scope;
    scope["__builtins__"] = py::module_::import("builtins");
    scope["__name__"] = "httpy.wsgi";
    py::exec(wsgi_source, scope);
    py::cpp_function log([](py::handle line) {
        spdlog::warn("wsgi.errors: {}", marshal::detail::display_str(line));
    });
    return {make_start_response_type(), scope["Errors"](log), scope["FileWrapper"],
            scope["file_region"], py::module_::import("io").attr("BytesIO")};
}

} // namespace httpy::detail
