#pragma once

#include <algorithm>
#include <concepts>
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
/// before they are stored (see `canonical_header_name`). Lookup is linear, which beats hashing
/// for the handful of names a request carries.
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
        if (auto* values = find_mutable(name))
            values->emplace_back(value);
        else
            entries_.push_back({std::string(name), {std::string(value)}});
    }

    /// As `add`, taking ownership of a freshly made name (no copy when the name is new).
    template <class Name>
        requires std::same_as<Name, std::string>
    void add(Name&& name, std::string_view value) {
        if (auto* values = find_mutable(name))
            values->emplace_back(value);
        else
            entries_.push_back({std::move(name), {std::string(value)}});
    }

    /// Replaces every value of `name` with `values` (keeping the name's position).
    void set(std::string_view name, value_list values) {
        if (auto* existing = find_mutable(name))
            *existing = std::move(values);
        else
            entries_.push_back({std::string(name), std::move(values)});
    }

    /// The values of `name`, or null when the name is absent.
    const value_list* find(std::string_view name) const {
        auto it = std::find_if(entries_.begin(), entries_.end(),
                               [name](const entry& e) { return e.first == name; });
        return it == entries_.end() ? nullptr : &it->second;
    }

    /// True when `name` has at least one entry.
    bool contains(std::string_view name) const { return find(name) != nullptr; }

    /// The number of distinct names.
    std::size_t size() const noexcept { return entries_.size(); }
    bool empty() const noexcept { return entries_.empty(); }
    void clear() noexcept { entries_.clear(); }
    void reserve(std::size_t names) { entries_.reserve(names); }

    const_iterator begin() const noexcept { return entries_.begin(); }
    const_iterator end() const noexcept { return entries_.end(); }

    friend bool operator==(const fields&, const fields&) = default;

private:
    value_list* find_mutable(std::string_view name) {
        return const_cast<value_list*>(std::as_const(*this).find(name));
    }

    std::vector<entry> entries_;
};

} // namespace httpy
