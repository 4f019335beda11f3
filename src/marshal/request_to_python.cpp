#include "marshal/request_to_python.hpp"

#include <pybind11/pybind11.h>

#include "marshal/python_text.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace py = pybind11;

namespace httpy::marshal {

namespace {

// Straight C API on this per-request path: pybind11's wrappers add a type check and a
// conversion per string, and every new reference is owned by a handle the moment it exists.
using detail::steal_or_throw;

py::object decode(std::string_view s) {
    return steal_or_throw(
        PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogateescape"));
}

// Names (methods, header names, query keys, route parameter names) repeat from one request to
// the next, so each is decoded once and then shared: the string is interned and its hash
// cached, which spares the decode, the hashing on dict insertion and the free, and makes the
// handler's own lookups (`headers.get("X-Sleep")`) identity hits. Direct-mapped and bounded:
// a name that misses replaces the slot's previous one, so hostile names cannot grow it.
class name_cache {
public:
    py::object get(std::string_view name) {
        if (name.size() > max_length)
            return decode(name);
        slot& s = slots_[index(name)];
        if (s.str && s.name == name)
            return s.str;
        auto str = decode(name);
        PyObject* p = str.release().ptr();
        PyUnicode_InternInPlace(&p); // consumes `p`'s reference, returns one to the interned str
        str = py::reinterpret_steal<py::object>(p);
        s.name.assign(name);
        s.str = str;
        return str;
    }

    // Python has finalised: its objects are gone, so the references are dropped unreleased.
    void forget() noexcept {
        for (auto& s : slots_)
            s.str.release();
    }

private:
    static constexpr std::size_t max_length = 40;
    static constexpr int slot_bits = 8;
    static constexpr std::size_t slot_count = std::size_t{1} << slot_bits;

    // Constant time, from the length and the first and last eight bytes, which is where names
    // differ; a collision costs one decode, never a wrong answer.
    static std::size_t index(std::string_view name) {
        std::uint64_t head = 0;
        std::uint64_t tail = 0;
        if (name.size() >= sizeof head) {
            std::memcpy(&head, name.data(), sizeof head);
            std::memcpy(&tail, name.data() + name.size() - sizeof tail, sizeof tail);
        } else {
            std::memcpy(&head, name.data(), name.size());
        }
        const std::uint64_t h = (head * 0x9E3779B97F4A7C15u) ^ (tail * 0xC2B2AE3D27D4EB4Fu) ^
                                (name.size() * 0x165667B19E3779F9u);
        return static_cast<std::size_t>(h >> (64 - slot_bits));
    }

    struct slot {
        std::string name;
        py::object str;
    };
    std::array<slot, slot_count> slots_{};
};

// One cache per interpreter lifetime, created and used under the GIL. Dropped (not released)
// from a Py_AtExit callback, because it holds strings of an interpreter that is gone by then.
name_cache* names = nullptr;

void forget_names() noexcept {
    names->forget();
    delete names;
    names = nullptr;
}

py::object name_to_python(std::string_view name) {
    if (names == nullptr) {
        if (Py_AtExit(forget_names) != 0)
            return decode(name); // no room for another exit callback: no cache, still correct
        names = new name_cache;
    }
    return names->get(name);
}

py::object to_python(const fields::value_list& values) {
    auto list = steal_or_throw(PyList_New(static_cast<Py_ssize_t>(values.size())));
    Py_ssize_t i = 0;
    for (const auto& value : values)
        // PyList_SET_ITEM steals the reference that release() hands over.
        PyList_SET_ITEM(list.ptr(), i++, decode(value).release().ptr());
    return list;
}

} // namespace

py::dict to_python(const fields& f) {
    // Sized up front: past 5 names a dict otherwise regrows its table (twice past 10, as browser
    // requests are). A CPython-private function, but exported through 3.13 and used by Cython.
    auto dict = steal_or_throw<py::dict>(_PyDict_NewPresized(static_cast<Py_ssize_t>(f.size())));
    for (const auto& [name, values] : f) {
        auto key = name_to_python(name);
        auto list = to_python(values);
        if (PyDict_SetItem(dict.ptr(), key.ptr(), list.ptr()) != 0)
            throw py::error_already_set();
    }
    return dict;
}

py::object body_to_python(std::string_view body, body_type type) {
    if (type == body_type::str)
        return decode(body);
    return steal_or_throw(
        PyBytes_FromStringAndSize(body.data(), static_cast<Py_ssize_t>(body.size())));
}

py::object call_handler(py::handle handler, const request& req, body_type type) {
    const std::array<py::object, 6> owned{
        name_to_python(req.method), decode(req.path),
        to_python(req.params),      to_python(req.query),
        to_python(req.headers),     body_to_python(req.body, type),
    };
    std::array<PyObject*, 6> args{};
    for (std::size_t i = 0; i < owned.size(); ++i)
        args[i] = owned[i].ptr();
    return steal_or_throw(PyObject_Vectorcall(handler.ptr(), args.data(), args.size(), nullptr));
}

} // namespace httpy::marshal
