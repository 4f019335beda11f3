#include "runtime/asgi_call.hpp"

#include <pybind11/pybind11.h>

#include "httpy/body_file.hpp"
#include "marshal/asgi_response.hpp"
#include "marshal/asgi_scope.hpp"
#include "marshal/conversion_error.hpp"
#include "marshal/spooled_body.hpp"
#include "runtime/python_callback.hpp"
#include "runtime/response_stream.hpp"
#include "runtime/whole_body.hpp"

#include <cerrno>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace py = pybind11;

namespace httpy::detail {

namespace {

[[noreturn]] void raise_os_error(const char* what) {
    PyErr_SetString(PyExc_OSError, what);
    throw py::error_already_set();
}

// The regular file at `path` (a str), whole, for http.response.pathsend.
std::shared_ptr<body_file> open_path(py::handle path) {
    if (!PyUnicode_Check(path.ptr()))
        throw marshal::conversion_error("http.response.pathsend path is not a str");
    py::object encoded = py::reinterpret_steal<py::object>(PyUnicode_EncodeFSDefault(path.ptr()));
    if (!encoded)
        throw py::error_already_set();
    const char* name = PyBytes_AS_STRING(encoded.ptr());
    const int fd = ::open(name, O_RDONLY | O_CLOEXEC);
    struct stat st {};
    const bool opened = fd >= 0 && ::fstat(fd, &st) == 0;
    if (!opened || !S_ISREG(st.st_mode)) {
        const int error = opened ? EINVAL : errno; // not a regular file, or why it failed
        if (fd >= 0)
            ::close(fd);
        errno = error;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path.ptr());
        throw py::error_already_set();
    }
    return std::make_shared<body_file>(fd, 0, static_cast<std::uint64_t>(st.st_size));
}

class asgi_call final : public python_call, public std::enable_shared_from_this<asgi_call> {
public:
    asgi_call(std::shared_ptr<const asgi_app_info> info, executor::state& pool, request req,
              call_completion done)
        : python_call(std::move(done)), info_(std::move(info)), pool_(pool),
          req_(std::move(req)) {}

    run_result run() override {
        py::dict scope = marshal::asgi_scope(req_, info_->constant_scope, info_->state);
        py::object body = py::none();
        py::object spool = py::none();
        if (req_.body_spool)
            spool = marshal::open_spooled_body(*req_.body_spool);
        else
            body = py::bytes(req_.body);
        py::object respond = respond_function(weak_from_this());
        py::object exchange = py::reinterpret_borrow<py::object>(info_->exchange_type)(
            respond, body, spool, info_->loop, info_->cancel_after, info_->log);
        return awaitable_result{exchange.attr("run")(info_->application, scope),
                                exchange.attr("client_left")};
    }

    // Exchange's `respond(exchange, status, headers, body, more_body, path)` for this call,
    // which holds it weakly (the exchange may outlive the call).
    static py::object respond_function(std::weak_ptr<asgi_call> call) {
        return python_callback("respond", [call = std::move(call)](callback_args args) {
            if (args.size() != 6)
                throw py::type_error("respond() takes 6 arguments");
            auto self = call.lock();
            if (!self || self->completed)
                raise_os_error("the request was answered already (timed out or cancelled)");
            const int more = PyObject_IsTrue(args[4]);
            if (more < 0)
                throw py::error_already_set();
            self->respond(args[0], args[1], args[2], args[3], more != 0, args[5]);
            return py::none();
        });
    }

    // The application's run returned having answered (else it raised): nothing to add.
    response resume(py::handle) override {
        throw marshal::conversion_error(info_->name + " returned without a response");
    }

    std::string describe() const override {
        return info_->name + " " + req_.method + " " + req_.path;
    }

private:
    // On the event loop, from send(): answers the call.
    void respond(py::handle exchange, py::handle status, py::handle headers, py::handle body,
                 bool more, py::handle path) {
        response r;
        marshal::asgi_head(status, headers, r);
        if (!path.is_none()) {
            r.file = open_path(path);
        } else {
            marshal::append_asgi_body(body, r.body, info_->max_response_bytes);
            if (more) {
                auto source = py::reinterpret_borrow<py::object>(exchange);
                open_stream s{source, source, py::none(), nullptr, describe() + " (response body)"};
                r.stream = open_response_stream(pool_, std::move(s), chunk_kind::asgi,
                                                info_->max_response_bytes);
            } else {
                r = whole_body(std::move(r), req_.method == "HEAD", describe());
            }
        }
        // Asked not to run here; through the type-erased completion executor the connection's
        // strand may still run it inline, with the GIL held (see the note).
        complete(*this, {}, std::move(r), /*immediate=*/true);
    }

    std::shared_ptr<const asgi_app_info> info_;
    executor::state& pool_;
    request req_;
};

} // namespace

call_ptr make_asgi_call(std::shared_ptr<const asgi_app_info> info, executor::state& pool,
                        request req, call_completion done) {
    return std::make_shared<asgi_call>(std::move(info), pool, std::move(req), std::move(done));
}

} // namespace httpy::detail
