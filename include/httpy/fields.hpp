#pragma once

#include "httpy/detail/name_index.hpp"

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace httpy {

/// An ordered multi-value map from names to lists of values: the shape of params, query and
/// headers (`dict[str, list[str]]` on the Python side).
///
/// Names keep the order in which they first appeared and each name keeps its values in the
/// order they were added. Lookup is exact and case-sensitive: header names are canonicalised
/// before they are stored (see `canonical_header_name`). Up to 32 names, lookup is a linear
/// search, which beats hashing for the handful of names a request carries; past that a hash
/// index takes over, so adding n names costs O(n) in all, not O(n^2).
class fields {
public:
    using value_list = std::vector<std::string>;
    using entry = std::pair<std::string, value_list>;
    using const_iterator = std::vector<entry>::const_iterator;

    fields() = default;

    /// Builds the map from `{name, {values...}}` entries; a repeated name is merged.
    fields(std::initializer_list<entry> entries) {
        for (const auto& [name, values] : entries)
            for (const auto& value : values)
                add(name, value);
    }

    /// Appends `value` to the values of `name`, adding the name at the end if it is new.
    void add(std::string_view name, std::string_view value) {
        const std::uint32_t h = hash_if_indexed(name);
        if (const std::size_t i = position(name, h); i != npos)
            entries_[i].second.emplace_back(value);
        else
            append(std::string(name), {std::string(value)}, h);
    }

    /// As `add`, taking ownership of a freshly made name (no copy when the name is new).
    template <class Name>
        requires std::same_as<Name, std::string>
    void add(Name&& name, std::string_view value) {
        const std::uint32_t h = hash_if_indexed(name);
        if (const std::size_t i = position(name, h); i != npos)
            entries_[i].second.emplace_back(value);
        else
            append(std::move(name), {std::string(value)}, h);
    }

    /// Replaces every value of `name` with `values` (keeping the name's position).
    void set(std::string_view name, value_list values) {
        const std::uint32_t h = hash_if_indexed(name);
        if (const std::size_t i = position(name, h); i != npos)
            entries_[i].second = std::move(values);
        else
            append(std::string(name), std::move(values), h);
    }

    /// The values of `name`, or null when the name is absent.
    const value_list* find(std::string_view name) const {
        const std::size_t i = position(name, hash_if_indexed(name));
        return i == npos ? nullptr : &entries_[i].second;
    }

    /// True when `name` has at least one entry.
    bool contains(std::string_view name) const { return find(name) != nullptr; }

    /// The number of distinct names.
    std::size_t size() const noexcept { return entries_.size(); }
    bool empty() const noexcept { return entries_.empty(); }
    void clear() noexcept {
        entries_.clear();
        index_.clear();
    }
    void reserve(std::size_t names) { entries_.reserve(names); }

    const_iterator begin() const noexcept { return entries_.begin(); }
    const_iterator end() const noexcept { return entries_.end(); }

    /// Equal when both hold the same names with the same values in the same order.
    friend bool operator==(const fields& a, const fields& b) { return a.entries_ == b.entries_; }

private:
    static constexpr std::size_t npos = detail::name_index::npos;
    // Names searched linearly before the index is built.
    static constexpr std::size_t linear_names = 32;

    std::uint32_t hash_if_indexed(std::string_view name) const noexcept {
        return index_.empty() ? 0 : detail::name_index::hash(name);
    }

    // `h` is the name's hash when the index is in use (else ignored).
    std::size_t position(std::string_view name, std::uint32_t h) const {
        if (!index_.empty())
            return index_.find(name, h, [this](std::size_t i) -> std::string_view {
                return entries_[i].first;
            });
        for (std::size_t i = 0; i < entries_.size(); ++i)
            if (entries_[i].first == name)
                return i;
        return npos;
    }

    // Adds a name known to be new; `h` is its hash when the index is in use.
    void append(std::string&& name, value_list&& values, std::uint32_t h) {
        entries_.emplace_back(std::move(name), std::move(values));
        if (!index_.empty())
            index_.insert(entries_.size() - 1, h);
        else if (entries_.size() > linear_names)
            for (std::size_t i = 0; i < entries_.size(); ++i)
                index_.insert(i, detail::name_index::hash(entries_[i].first));
    }

    std::vector<entry> entries_;
    detail::name_index index_; // empty until there are more than linear_names names
};

} // namespace httpy
