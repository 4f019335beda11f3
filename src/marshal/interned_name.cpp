#include "marshal/interned_name.hpp"

#include <pybind11/pybind11.h>

#include "marshal/python_text.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace py = pybind11;

namespace httpy::marshal {

namespace {

py::object decode(std::string_view s) {
    return detail::steal_or_throw(
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
        } else if (!name.empty()) { // an empty view may have no data() to copy from
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

} // namespace

py::object interned_name(std::string_view name) {
    if (names == nullptr) {
        if (Py_AtExit(forget_names) != 0)
            return decode(name); // no room for another exit callback: no cache, still correct
        names = new name_cache;
    }
    return names->get(name);
}


} // namespace httpy::marshal
