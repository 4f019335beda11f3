#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace httpy::detail {

/// A hash index over distinct names that its owner stores at positions 0, 1, 2...: finds a
/// name's position in expected constant time (open addressing, linear probing, at most half
/// full). It holds positions and 32 bits of each name's hash, never the names themselves, so it
/// is copied and moved with its owner as plain data and stays valid when the owner's storage
/// moves. `fields` uses it once it holds more names than a linear search suits.
class name_index {
public:
    /// What `find` returns for a name that is not there.
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    /// The hash that `find` and `insert` take for `name`.
    static std::uint32_t hash(std::string_view name) noexcept {
        return static_cast<std::uint32_t>(std::hash<std::string_view>{}(name));
    }

    /// True when nothing has been inserted since construction or the last `clear`.
    bool empty() const noexcept { return count_ == 0; }

    /// Forgets every position.
    void clear() noexcept {
        slots_.clear();
        count_ = 0;
    }

    /// The position of `name`, whose hash is `h`, or npos. `name_at(position)` gives the name
    /// stored at a position; it is called only for positions whose name has the same hash.
    template <class NameAt>
    std::size_t find(std::string_view name, std::uint32_t h, NameAt&& name_at) const {
        if (slots_.empty())
            return npos;
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = h & mask;; i = (i + 1) & mask) {
            const slot& s = slots_[i];
            if (s.position == 0)
                return npos;
            if (s.hash == h && name_at(std::size_t{s.position - 1}) == name)
                return s.position - 1;
        }
    }

    /// Records that `position` holds a name whose hash is `h`.
    /// Requires: no indexed position holds the same name; `position` < 2^32 - 1.
    void insert(std::size_t position, std::uint32_t h) {
        if ((count_ + 1) * 2 > slots_.size())
            grow();
        place({static_cast<std::uint32_t>(position + 1), h});
        ++count_;
    }

private:
    struct slot {
        std::uint32_t position = 0; // the position plus one; 0: an empty slot
        std::uint32_t hash = 0;
    };

    static constexpr std::size_t initial_slots = 64;

    void place(slot s) {
        const std::size_t mask = slots_.size() - 1;
        std::size_t i = s.hash & mask;
        while (slots_[i].position != 0)
            i = (i + 1) & mask;
        slots_[i] = s;
    }

    void grow() {
        std::vector<slot> old(slots_.empty() ? initial_slots : slots_.size() * 2);
        old.swap(slots_);
        for (const slot& s : old)
            if (s.position != 0)
                place(s);
    }

    std::vector<slot> slots_; // a power of two in size, or empty
    std::size_t count_ = 0;
};

} // namespace httpy::detail
