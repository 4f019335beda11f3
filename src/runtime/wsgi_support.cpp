#include "runtime/wsgi_support.hpp"

#include <pybind11/eval.h>
#include <pybind11/pybind11.h>

#include "marshal/python_text.hpp"
#include "marshal/wsgi_response.hpp"

#include <spdlog/spdlog.h>

namespace py = pybind11;

namespace httpy::detail {

namespace {

constexpr const char* wsgi_source = R"(
import io
import os
import stat
import threading


class StartResponse:
    __slots__ = ("status", "headers", "sent", "written", "_size")
    limit = 0

    def __init__(self):
        self.status = None
        self.headers = None
        self.sent = False
        self.written = None
        self._size = 0

    def __call__(self, status, response_headers, exc_info=None):
        if exc_info is not None:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise RuntimeError("start_response was called a second time without exc_info")
        if not isinstance(status, str):
            raise TypeError(
                f"start_response: the status is of type {type(status).__name__}; expected str")
        if not isinstance(response_headers, list):
            raise TypeError(
                f"start_response: the headers are of type {type(response_headers).__name__}; "
                "expected a list of (name, value) tuples")
        self.status = status
        self.headers = response_headers
        return self.write

    def write(self, data):
        if self.status is None:
            raise RuntimeError("write() was called before start_response")
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"write() takes bytes, not {type(data).__name__}")
        if not data:
            return
        self._size += len(data)
        if self._size > StartResponse.limit:
            raise RuntimeError(
                f"write() was given more than {StartResponse.limit} bytes before they could be sent")
        if self.written is None:
            self.written = [bytes(data)]
        else:
            self.written.append(bytes(data))


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
    py::object written = start_response.attr("written");
    if (written.is_none())
        return;
    start_response.attr("written") = py::none();
    for (py::handle piece : written)
        marshal::append_wsgi_chunk(piece, out, total, max);
}

wsgi_support make_wsgi_support(std::size_t max_written) {
    py::dict scope;
    scope["__builtins__"] = py::module_::import("builtins");
    scope["__name__"] = "httpy.wsgi";
    py::exec(wsgi_source, scope);
    scope["StartResponse"].attr("limit") = max_written;
    py::cpp_function log([](py::handle line) {
        spdlog::warn("wsgi.errors: {}", marshal::detail::display_str(line));
    });
    return {scope["StartResponse"], scope["Errors"](log), scope["FileWrapper"],
            scope["file_region"], py::module_::import("io").attr("BytesIO")};
}

} // namespace httpy::detail
