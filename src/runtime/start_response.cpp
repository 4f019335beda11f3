#include "runtime/start_response.hpp"

#include <pybind11/pybind11.h>

#include <utility>

namespace py = pybind11;

namespace httpy::detail {

namespace {

struct start_response_object {
    PyObject_HEAD
    PyObject* status = nullptr;  // str, once called
    PyObject* headers = nullptr; // list, once called
    PyObject* written = nullptr; // list of bytes from write(), until taken
    Py_ssize_t written_size = 0;
    Py_ssize_t max_written = 0;
    bool sent = false;
};

start_response_object* self_of(PyObject* o) { return reinterpret_cast<start_response_object*>(o); }

int traverse(PyObject* o, visitproc visit, void* arg) {
    auto* self = self_of(o);
    Py_VISIT(self->status);
    Py_VISIT(self->headers);
    Py_VISIT(self->written);
    Py_VISIT(Py_TYPE(o)); // a heap type's instances hold it
    return 0;
}

int clear(PyObject* o) {
    auto* self = self_of(o);
    Py_CLEAR(self->status);
    Py_CLEAR(self->headers);
    Py_CLEAR(self->written);
    return 0;
}

void dealloc(PyObject* o) {
    PyTypeObject* type = Py_TYPE(o);
    PyObject_GC_UnTrack(o);
    clear(o);
    type->tp_free(o);
    Py_DECREF(type);
}

// write(data): legacy applications' imperative body, bytes sent before the iterable's.
PyObject* write(PyObject* o, PyObject* data) {
    auto* self = self_of(o);
    if (self->status == nullptr) {
        PyErr_SetString(PyExc_RuntimeError, "write() was called before start_response");
        return nullptr;
    }
    if (!PyBytes_Check(data) && !PyByteArray_Check(data)) {
        PyErr_Format(PyExc_TypeError, "write() takes bytes, not %.200s", Py_TYPE(data)->tp_name);
        return nullptr;
    }
    const Py_ssize_t n = PyBytes_Check(data) ? PyBytes_GET_SIZE(data) : PyByteArray_GET_SIZE(data);
    if (n == 0)
        Py_RETURN_NONE;
    if (self->written_size + n > self->max_written) {
        PyErr_Format(PyExc_RuntimeError,
                     "write() was given more than %zd bytes before they could be sent",
                     self->max_written);
        return nullptr;
    }
    PyObject* piece = PyBytes_Check(data) ? Py_NewRef(data)
                                          : PyBytes_FromStringAndSize(PyByteArray_AS_STRING(data), n);
    if (piece == nullptr)
        return nullptr;
    if (self->written == nullptr && (self->written = PyList_New(0)) == nullptr) {
        Py_DECREF(piece);
        return nullptr;
    }
    const int appended = PyList_Append(self->written, piece);
    Py_DECREF(piece);
    if (appended != 0)
        return nullptr;
    self->written_size += n;
    Py_RETURN_NONE;
}

PyMethodDef write_def{"write", write, METH_O, "write(data): body bytes before the iterable's"};

// start_response(status, response_headers, exc_info=None) -> write
PyObject* call(PyObject* o, PyObject* args, PyObject* kwargs) {
    static const char* names[] = {"status", "response_headers", "exc_info", nullptr};
    PyObject* status = nullptr;
    PyObject* headers = nullptr;
    PyObject* exc_info = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|O:start_response",
                                     const_cast<char**>(names), &status, &headers, &exc_info))
        return nullptr;
    auto* self = self_of(o);
    if (exc_info != Py_None) {
        if (self->sent) { // too late to replace the head: the error goes on up
            if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
                PyErr_SetString(PyExc_TypeError, "start_response: exc_info is not a 3-tuple");
                return nullptr;
            }
            PyObject* value = PyTuple_GET_ITEM(exc_info, 1);
            PyObject* traceback = PyTuple_GET_ITEM(exc_info, 2);
            if (!PyExceptionInstance_Check(value)) {
                PyErr_SetString(PyExc_TypeError, "start_response: exc_info[1] is no exception");
                return nullptr;
            }
            if (traceback != Py_None)
                PyException_SetTraceback(value, traceback);
            PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(value)), value);
            return nullptr;
        }
    } else if (self->status != nullptr) {
        PyErr_SetString(PyExc_RuntimeError,
                        "start_response was called a second time without exc_info");
        return nullptr;
    }
    if (!PyUnicode_Check(status)) {
        PyErr_Format(PyExc_TypeError, "start_response: the status is of type %.200s; expected str",
                     Py_TYPE(status)->tp_name);
        return nullptr;
    }
    if (!PyList_Check(headers)) {
        PyErr_Format(PyExc_TypeError,
                     "start_response: the headers are of type %.200s; expected a list of "
                     "(name, value) tuples",
                     Py_TYPE(headers)->tp_name);
        return nullptr;
    }
    Py_XSETREF(self->status, Py_NewRef(status));
    Py_XSETREF(self->headers, Py_NewRef(headers));
    return PyCFunction_New(&write_def, o);
}

PyType_Slot slots[] = {
    {Py_tp_call, reinterpret_cast<void*>(call)},
    {Py_tp_traverse, reinterpret_cast<void*>(traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(clear)},
    {Py_tp_dealloc, reinterpret_cast<void*>(dealloc)},
    {Py_tp_doc, const_cast<char*>("start_response(status, response_headers, exc_info=None)")},
    {0, nullptr},
};

PyType_Spec spec{"httpy.StartResponse", sizeof(start_response_object), 0,
                 Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION, slots};

} // namespace

py::object make_start_response_type() {
    PyObject* type = PyType_FromSpec(&spec);
    if (type == nullptr)
        throw py::error_already_set();
    return py::reinterpret_steal<py::object>(type);
}

py::object new_start_response(py::handle type, std::size_t max_written) {
    auto* t = reinterpret_cast<PyTypeObject*>(type.ptr());
    PyObject* o = t->tp_alloc(t, 0); // zeroed, tracked by the GC, holds a reference to `t`
    if (o == nullptr)
        throw py::error_already_set();
    self_of(o)->max_written = static_cast<Py_ssize_t>(max_written);
    return py::reinterpret_steal<py::object>(o);
}

py::handle start_response_status(py::handle start_response) noexcept {
    return self_of(start_response.ptr())->status;
}

py::handle start_response_headers(py::handle start_response) noexcept {
    return self_of(start_response.ptr())->headers;
}

void mark_start_response_sent(py::handle start_response) noexcept {
    self_of(start_response.ptr())->sent = true;
}

py::object take_written_list(py::handle start_response) noexcept {
    auto* self = self_of(start_response.ptr());
    if (self->written == nullptr)
        return py::none();
    return py::reinterpret_steal<py::object>(std::exchange(self->written, nullptr));
}

} // namespace httpy::detail
