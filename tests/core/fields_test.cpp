#include "httpy/fields.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using httpy::fields;

namespace {

constexpr std::size_t many = 200'000;

std::string name_of(std::size_t i) {
    return "X-Name-" + std::to_string(i);
}

} // namespace

TEST_CASE("200000 distinct names insert and look up correctly, in their first order") {
    fields f;
    for (std::size_t i = 0; i < many; ++i)
        f.add(name_of(i), std::to_string(i));
    for (std::size_t i = 0; i < many; i += 7)
        f.add(name_of(i), "again");
    REQUIRE(f.size() == many);
    std::size_t position = 0;
    for (const auto& [name, values] : f) {
        REQUIRE(name == name_of(position));
        REQUIRE(values.front() == std::to_string(position));
        REQUIRE(values.size() == (position % 7 == 0 ? 2u : 1u));
        ++position;
    }
    for (std::size_t i = 0; i < many; ++i)
        REQUIRE(f.find(name_of(i)) == &(f.begin() + static_cast<std::ptrdiff_t>(i))->second);
    CHECK_FALSE(f.contains(name_of(many)));
    CHECK_FALSE(f.contains("X-Name-"));
}

TEST_CASE("a repeated name keeps its place and collects its values, before and past 32 names") {
    for (const std::size_t count : {3u, 32u, 33u, 100u}) {
        fields f;
        for (std::size_t i = 0; i < count; ++i)
            f.add(name_of(i), "a");
        f.add(name_of(0), "b");
        f.set(name_of(count - 1), {"c", "d"});
        f.set("New", {"e"});
        CHECK(f.size() == count + 1);
        CHECK(f.begin()->first == name_of(0));
        CHECK(*f.find(name_of(0)) == fields::value_list{"a", "b"});
        CHECK(*f.find(name_of(count - 1)) == fields::value_list{"c", "d"});
        CHECK((f.end() - 1)->first == "New");
    }
}

TEST_CASE("copies, clear and equality behave the same with many names as with few") {
    fields f;
    for (std::size_t i = 0; i < 50; ++i)
        f.add(name_of(i), "v");
    fields copy = f;
    CHECK(copy == f);
    copy.add(name_of(10), "w");
    CHECK(copy != f);
    CHECK(f.find(name_of(10))->size() == 1);
    CHECK(copy.find(name_of(10))->size() == 2);
    fields moved = std::move(copy);
    CHECK(moved.find(name_of(49)) != nullptr);
    moved.clear();
    CHECK(moved.empty());
    CHECK(moved.find(name_of(1)) == nullptr);
    moved.add("A", "1");
    CHECK(moved == fields{{"A", {"1"}}});
    fields built;
    for (std::size_t i = 0; i < 50; ++i)
        built.set(name_of(i), {"v"});
    CHECK(built == f);
}
