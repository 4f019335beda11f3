#include "httpy/detail/name_index.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using httpy::detail::name_index;

namespace {

// Names stored by position, as `fields` stores them, counting every name the index compares.
struct stored_names {
    std::vector<std::string> names;
    mutable std::size_t compared = 0;

    std::string_view operator()(std::size_t position) const {
        ++compared;
        return names.at(position);
    }
};

} // namespace

TEST_CASE("inserting and finding 200000 names compares about one stored name per lookup") {
    constexpr std::size_t count = 200'000;
    name_index index;
    stored_names stored;
    for (std::size_t i = 0; i < count; ++i) {
        std::string name = "X-Name-" + std::to_string(i);
        const auto h = name_index::hash(name);
        REQUIRE(index.find(name, h, stored) == name_index::npos);
        stored.names.push_back(std::move(name));
        index.insert(i, h);
    }
    // A linear search would have compared count * (count - 1) / 2 names by now.
    CHECK(stored.compared < count / 100);
    stored.compared = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const std::string& name = stored.names[i];
        REQUIRE(index.find(name, name_index::hash(name), stored) == i);
    }
    CHECK(stored.compared >= count);
    CHECK(stored.compared < count + count / 100);
}

TEST_CASE("an empty or cleared index finds nothing and compares nothing") {
    name_index index;
    stored_names stored{{"A"}};
    CHECK(index.empty());
    CHECK(index.find("A", name_index::hash("A"), stored) == name_index::npos);
    index.insert(0, name_index::hash("A"));
    CHECK_FALSE(index.empty());
    CHECK(index.find("A", name_index::hash("A"), stored) == 0);
    index.clear();
    CHECK(index.empty());
    CHECK(index.find("A", name_index::hash("A"), stored) == name_index::npos);
    CHECK(stored.compared == 1);
}

TEST_CASE("names whose hashes collide are told apart by comparing them") {
    name_index index;
    stored_names stored{{"A", "B", "C"}};
    for (std::size_t i = 0; i < 3; ++i)
        index.insert(i, 42); // one hash for all: every lookup probes past the others
    CHECK(index.find("A", 42, stored) == 0);
    CHECK(index.find("C", 42, stored) == 2);
    CHECK(index.find("D", 42, stored) == name_index::npos);
    CHECK(index.find("A", 43, stored) == name_index::npos);
}
