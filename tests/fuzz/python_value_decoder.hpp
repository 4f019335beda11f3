#pragma once

#include <pybind11/pytypes.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace httpy::fuzz {

/// The decoder's instructions. An input is a sequence of them: one byte each (its value modulo
/// the number of instructions), some followed by operand bytes; `n` is one operand byte.
/// tests/fuzz/make_corpus.py reads this list to write seeds: keep one name per line, in order.
enum class op : std::uint8_t {
    push_none,        // None
    push_true,        // True
    push_false,       // False
    push_small_int,   // two bytes, little-endian, modulo 1000: statuses and their edges
    push_big_int,     // n bytes, little-endian two's complement
    push_huge_int,    // helpers.huge_int(n): up to 5080 digits, past str()'s limit
    push_float,       // eight bytes: any double, NaN and the infinities included
    push_text,        // n bytes decoded as UTF-8 with surrogateescape
    push_code_points, // n two-byte code units: any UCS-2 text, lone surrogates included
    push_word,        // helpers.WORDS[n]: header names, CR, LF, NUL, surrogates...
    push_bytes,       // n bytes
    push_bytearray,   // n bytes
    push_memoryview,  // a variant byte, then n bytes: helpers.memoryview_of
    make_tuple,       // pops n % 8 values into a tuple (fewer when the stack is shorter)
    make_list,        // pops n % 8 values into a list
    make_dict,        // pops n % 8 key, value pairs into a dict; unhashable keys are left out
    make_subclass,    // replaces the top with helpers.subclass(top)
    make_odd,         // replaces the top with helpers.odd(n, top): odd sequences, objects...
    dup,              // pushes the top again
    swap,             // swaps the two top values
    make_cycle,       // puts the top list or dict inside itself
};

/// Builds Python values from fuzz bytes with a small stack machine (see `op`), so that
/// libFuzzer's byte mutations become changes of shape, type and content of nested values.
class python_value_decoder {
public:
    /// `helpers` is the namespace of tests/fuzz/python_result_helpers.py.
    explicit python_value_decoder(pybind11::dict helpers) : helpers_(std::move(helpers)) {}

    /// Runs `input` and returns the top of the stack, None when the stack is empty.
    /// Requires: GIL held.
    /// Throws: pybind11::error_already_set when a helper raises (a bug in the helpers).
    pybind11::object decode(std::span<const std::uint8_t> input);

    /// Every value the last `decode` made, each container and each item, in order.
    const std::vector<pybind11::object>& made() const noexcept { return made_; }

private:
    void step(op instruction);
    void push(pybind11::object value);
    std::vector<pybind11::object> pop(std::size_t count);
    pybind11::object pop_top();
    std::uint8_t next() noexcept;
    std::span<const std::uint8_t> take(std::size_t count) noexcept;
    pybind11::object helper(const char* name) const;
    pybind11::object code_points();
    pybind11::object dict_of(std::size_t pairs);
    void make_cycle();

    pybind11::dict helpers_;
    std::span<const std::uint8_t> input_;
    std::size_t pos_ = 0;
    std::vector<pybind11::object> stack_;
    std::vector<pybind11::object> made_;
};

} // namespace httpy::fuzz
