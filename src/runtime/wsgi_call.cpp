#include "runtime/wsgi_call.hpp"

#include <pybind11/pybind11.h>

#include "core/declared_length.hpp"
#include "httpy/body_file.hpp"
#include "marshal/conversion_error.hpp"
#include "marshal/wsgi_environ.hpp"
#include "marshal/wsgi_response.hpp"
#include "runtime/response_stream.hpp"
#include "runtime/start_response.hpp"
#include "runtime/whole_body.hpp"

#include <boost/beast/core/string.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <optional>

#include <unistd.h>

namespace py = pybind11;

namespace httpy::detail {

namespace {

py::object steal(PyObject* p) {
    if (p == nullptr)
        throw py::error_already_set();
    return py::reinterpret_steal<py::object>(p);
}

class wsgi_call final : public python_call {
public:
    wsgi_call(std::shared_ptr<const wsgi_app_info> info, executor::state& pool, request req,
              call_completion done)
        : python_call(std::move(done)), info_(std::move(info)), pool_(pool),
          req_(std::move(req)) {}

    run_result run() override {
        bool dropped = false;
        py::dict environ = marshal::wsgi_environ(req_, info_->constant_environ, info_->root_path,
                                                 info_->bytes_io, dropped);
        if (dropped && !info_->told_underscore.exchange(true))
            spdlog::warn("{}: request headers whose names hold '_' are left out of the WSGI "
                         "environ (they would pass for the '-' ones); logged once",
                         describe());
        start_response_ = new_start_response(info_->start_response_type, info_->max_response_bytes);
        // The call object may be released without the GIL: no Python reference outlives run.
        struct release {
            py::object& o;
            ~release() { o = py::object(); }
        } released{start_response_};
        std::array<PyObject*, 2> args{environ.ptr(), start_response_.ptr()};
        py::object result =
            steal(PyObject_Vectorcall(info_->application.ptr(), args.data(), args.size(), nullptr));
        bool streaming = false;
        try {
            return answer(result, streaming);
        } catch (...) {
            if (!streaming)
                close_iterable(result, describe());
            throw;
        }
    }

    response resume(py::handle) override { return {}; } // run never hands out an awaitable

    std::string describe() const override {
        return info_->name + " " + req_.method + " " + req_.path;
    }

private:
    response answer(py::handle result, bool& streaming) {
        response r;
        std::size_t total = 0;
        const std::size_t max = info_->max_response_bytes;
        if (PyList_CheckExact(result.ptr()) || PyTuple_CheckExact(result.ptr())) {
            take_written(r.body, total);
            py::object items = steal(PySequence_Fast(result.ptr(), "a list or tuple"));
            const Py_ssize_t n = PySequence_Fast_GET_SIZE(items.ptr());
            for (Py_ssize_t i = 0; i < n; ++i)
                marshal::append_wsgi_chunk(PySequence_Fast_GET_ITEM(items.ptr(), i), r.body,
                                           total, max);
            take_head(r);
            return whole(std::move(r));
        }
        if (Py_TYPE(result.ptr()) == reinterpret_cast<PyTypeObject*>(info_->file_wrapper_type.ptr()))
            if (auto file = file_response(result))
                return std::move(*file);
        py::object iterator = steal(PyObject_GetIter(result.ptr()));
        for (;;) {
            take_written(r.body, total);
            PyObject* item = PyIter_Next(iterator.ptr());
            if (item == nullptr) {
                if (PyErr_Occurred() != nullptr)
                    throw py::error_already_set();
                take_written(r.body, total);
                take_head(r);
                close_iterable(result, describe());
                return whole(std::move(r));
            }
            const auto chunk = py::reinterpret_steal<py::object>(item);
            take_written(r.body, total);
            marshal::append_wsgi_chunk(chunk, r.body, total, max);
            if (!r.body.empty())
                break;
        }
        take_head(r);
        // A body whose Content-Length is in already (as Flask's): sent whole, if it ends now.
        if (const auto length = declared_length(r); length && r.body.size() >= *length) {
            PyObject* item = PyIter_Next(iterator.ptr());
            if (item == nullptr) {
                if (PyErr_Occurred() != nullptr)
                    throw py::error_already_set();
                close_iterable(result, describe());
                return whole(std::move(r));
            }
            marshal::append_wsgi_chunk(py::reinterpret_steal<py::object>(item), r.body, total,
                                       max);
        }
        open_stream s{py::reinterpret_borrow<py::object>(result), std::move(iterator),
                      start_response_, nullptr, describe() + " (response body)"};
        streaming = true;
        r.stream = open_response_stream(pool_, std::move(s), chunk_kind::wsgi, max);
        return r;
    }

    // The status and headers start_response was given, now that the head is to be sent.
    void take_head(response& r) {
        py::handle status = start_response_status(start_response_);
        if (!status)
            throw marshal::conversion_error(
                info_->name + " returned (or yielded a body) without calling start_response");
        marshal::wsgi_head(status, start_response_headers(start_response_), r);
        mark_start_response_sent(start_response_);
    }

    void take_written(std::string& out, std::size_t& total) {
        detail::take_written(start_response_, out, total, info_->max_response_bytes);
    }

    response whole(response r) const { return whole_body(std::move(r), req_.method == "HEAD", describe()); }

    // wsgi.file_wrapper over a regular file: the file region, sent with sendfile.
    std::optional<response> file_response(py::handle wrapper) {
        py::object region = py::reinterpret_borrow<py::object>(info_->file_region)(wrapper);
        if (region.is_none())
            return std::nullopt;
        const auto fd = region[py::int_(0)].cast<int>();
        std::uint64_t offset = 0;
        std::uint64_t length = 0;
        response r;
        try {
            offset = region[py::int_(1)].cast<std::uint64_t>();
            length = region[py::int_(2)].cast<std::uint64_t>();
            std::size_t total = 0;
            take_written(r.body, total);
            take_head(r);
        } catch (...) {
            ::close(fd);
            throw;
        }
        if (const auto declared = declared_length(r); declared && *declared < length + r.body.size())
            length = *declared > r.body.size() ? *declared - r.body.size() : 0;
        r.file = std::make_shared<body_file>(fd, offset, length);
        close_iterable(wrapper, describe());
        return r;
    }

    std::shared_ptr<const wsgi_app_info> info_;
    executor::state& pool_;
    request req_;
    py::object start_response_; // set only while run runs
};

} // namespace

call_ptr make_wsgi_call(std::shared_ptr<const wsgi_app_info> info, executor::state& pool,
                        request req, call_completion done) {
    return std::make_shared<wsgi_call>(std::move(info), pool, std::move(req), std::move(done));
}

} // namespace httpy::detail
