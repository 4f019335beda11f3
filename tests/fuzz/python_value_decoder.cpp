#include "tests/fuzz/python_value_decoder.hpp"

#include <pybind11/pybind11.h>

#include "marshal/python_text.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace py = pybind11;

namespace httpy::fuzz {
namespace {

constexpr std::size_t op_count = static_cast<std::size_t>(op::make_cycle) + 1;
// Deep enough for any response shape; beyond it pushes are dropped.
constexpr std::size_t max_stack = 64;

using marshal::detail::steal_or_throw;

const char* chars(std::span<const std::uint8_t> bytes) {
    return reinterpret_cast<const char*>(bytes.data());
}

py::bytes bytes_of(std::span<const std::uint8_t> bytes) {
    return {chars(bytes), bytes.size()};
}

py::tuple tuple_of(const std::vector<py::object>& items) {
    py::tuple tuple(items.size());
    for (std::size_t i = 0; i < items.size(); ++i)
        tuple[i] = items[i];
    return tuple;
}

py::list list_of(const std::vector<py::object>& items) {
    py::list list;
    for (const auto& item : items)
        list.append(item);
    return list;
}

} // namespace

py::object python_value_decoder::decode(std::span<const std::uint8_t> input) {
    input_ = input;
    pos_ = 0;
    stack_.clear();
    made_.clear();
    while (pos_ < input_.size())
        step(static_cast<op>(next() % op_count));
    return stack_.empty() ? py::none() : stack_.back();
}

void python_value_decoder::step(op instruction) {
    switch (instruction) {
    case op::push_none:
        return push(py::none());
    case op::push_true:
        return push(py::bool_(true));
    case op::push_false:
        return push(py::bool_(false));
    case op::push_small_int: {
        const unsigned low = next();
        const unsigned high = next();
        return push(py::int_((low | high << 8) % 1000));
    }
    case op::push_big_int:
        return push(helper("big_int")(bytes_of(take(next()))));
    case op::push_huge_int:
        return push(helper("huge_int")(next()));
    case op::push_float: {
        std::array<std::uint8_t, sizeof(double)> raw{};
        const auto given = take(raw.size());
        std::copy(given.begin(), given.end(), raw.begin());
        double value = 0;
        std::memcpy(&value, raw.data(), raw.size());
        return push(py::float_(value));
    }
    case op::push_text: {
        const auto text = take(next());
        return push(steal_or_throw(PyUnicode_DecodeUTF8(
            chars(text), static_cast<Py_ssize_t>(text.size()), "surrogateescape")));
    }
    case op::push_code_points:
        return push(code_points());
    case op::push_word: {
        const py::list words = helper("WORDS");
        return push(words[next() % words.size()]);
    }
    case op::push_bytes:
        return push(bytes_of(take(next())));
    case op::push_bytearray: {
        const auto bytes = take(next());
        return push(steal_or_throw(
            PyByteArray_FromStringAndSize(chars(bytes), static_cast<Py_ssize_t>(bytes.size()))));
    }
    case op::push_memoryview: {
        const std::uint8_t variant = next();
        return push(helper("memoryview_of")(bytes_of(take(next())), variant));
    }
    case op::make_tuple:
        return push(tuple_of(pop(next() % 8u)));
    case op::make_list:
        return push(list_of(pop(next() % 8u)));
    case op::make_dict:
        return push(dict_of(next() % 8u));
    case op::make_subclass:
        return push(helper("subclass")(pop_top()));
    case op::make_odd: {
        const std::uint8_t variant = next();
        return push(helper("odd")(variant, pop_top()));
    }
    case op::dup:
        if (!stack_.empty())
            push(stack_.back());
        return;
    case op::swap:
        if (stack_.size() >= 2)
            std::swap(stack_[stack_.size() - 1], stack_[stack_.size() - 2]);
        return;
    case op::make_cycle:
        return make_cycle();
    }
}

void python_value_decoder::push(py::object value) {
    if (stack_.size() >= max_stack)
        return;
    made_.push_back(value);
    stack_.push_back(std::move(value));
}

// The top `count` values (fewer if the stack is shorter), deepest first.
std::vector<py::object> python_value_decoder::pop(std::size_t count) {
    count = std::min(count, stack_.size());
    const auto first = stack_.end() - static_cast<std::ptrdiff_t>(count);
    std::vector<py::object> values(std::make_move_iterator(first),
                                   std::make_move_iterator(stack_.end()));
    stack_.erase(first, stack_.end());
    return values;
}

// The top value, or None when the stack is empty.
py::object python_value_decoder::pop_top() {
    auto values = pop(1);
    if (values.empty())
        return py::none();
    return std::move(values.front());
}

std::uint8_t python_value_decoder::next() noexcept {
    return pos_ < input_.size() ? input_[pos_++] : 0;
}

std::span<const std::uint8_t> python_value_decoder::take(std::size_t count) noexcept {
    count = std::min(count, input_.size() - pos_);
    const auto bytes = input_.subspan(pos_, count);
    pos_ += count;
    return bytes;
}

py::object python_value_decoder::helper(const char* name) const {
    return helpers_[name];
}

// Two bytes per UCS-2 code unit, so any lone surrogate can be spelled.
py::object python_value_decoder::code_points() {
    const std::size_t count = next();
    std::vector<Py_UCS2> units;
    while (units.size() < count && input_.size() - pos_ >= 2) {
        const unsigned low = next();
        const unsigned high = next();
        units.push_back(static_cast<Py_UCS2>(low | high << 8));
    }
    return steal_or_throw(PyUnicode_FromKindAndData(PyUnicode_2BYTE_KIND, units.data(),
                                                    static_cast<Py_ssize_t>(units.size())));
}

py::object python_value_decoder::dict_of(std::size_t pairs) {
    const auto items = pop(2 * std::min(pairs, stack_.size() / 2));
    py::dict dict;
    for (std::size_t i = 0; i + 1 < items.size(); i += 2)
        if (PyDict_SetItem(dict.ptr(), items[i].ptr(), items[i + 1].ptr()) != 0)
            PyErr_Clear(); // an unhashable key, or a __hash__ or __eq__ that raised
    return dict;
}

void python_value_decoder::make_cycle() {
    if (stack_.empty())
        return;
    PyObject* top = stack_.back().ptr();
    const int failed = PyList_Check(top)   ? PyList_Append(top, top)
                       : PyDict_Check(top) ? PyDict_SetItemString(top, "self", top)
                                           : 0;
    if (failed != 0)
        throw py::error_already_set();
}

} // namespace httpy::fuzz
