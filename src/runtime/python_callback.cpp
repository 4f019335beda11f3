#include "runtime/python_callback.hpp"

#include <pybind11/pybind11.h>

#include <exception>
#include <memory>

namespace py = pybind11;

namespace httpy::detail {

namespace {

// What one function is made of, owned by the capsule that is the function's `self`: the
// function releases the capsule last thing as it goes, so the definition outlives every use.
struct callback_state {
    PyMethodDef definition;
    std::function<py::object(callback_args)> body;
};

constexpr const char* capsule_name = "httpy.python_callback";

PyObject* call_body(PyObject* capsule, PyObject* const* args, Py_ssize_t count) {
    auto* state = static_cast<callback_state*>(PyCapsule_GetPointer(capsule, capsule_name));
    if (state == nullptr)
        return nullptr;
    try {
        return state->body(callback_args(args, static_cast<std::size_t>(count))).release().ptr();
    } catch (py::error_already_set& e) {
        e.restore();
    } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
    }
    return nullptr;
}

} // namespace

py::object python_callback(const char* name, std::function<py::object(callback_args)> body) {
    auto state = std::make_unique<callback_state>(callback_state{
        {name, reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&call_body)),
         METH_FASTCALL, nullptr},
        std::move(body)});
    PyObject* capsule = PyCapsule_New(state.get(), capsule_name, [](PyObject* c) {
        delete static_cast<callback_state*>(PyCapsule_GetPointer(c, capsule_name));
    });
    if (capsule == nullptr)
        throw py::error_already_set();
    callback_state* made = state.release(); // the capsule's now
    auto self = py::reinterpret_steal<py::object>(capsule);
    PyObject* function = PyCFunction_New(&made->definition, self.ptr());
    if (function == nullptr)
        throw py::error_already_set();
    return py::reinterpret_steal<py::object>(function);
}

} // namespace httpy::detail
