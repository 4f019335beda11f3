#include "server/request_error.hpp"

#include <doctest/doctest.h>

using httpy::detail::only_chunked;
using httpy::detail::valid_host;

TEST_CASE("a Host is a name, an IPv4 address or a bracketed literal with an optional port") {
    for (const char* host : {"t", "example.com", "example.com:8080", "127.0.0.1:80", "[::1]",
                             "[::1]:8080", "a-b_c~d.e", ""})
        CHECK_MESSAGE(valid_host(host), host);
    for (const char* host : {"t, evil", "t evil", "t/evil", "user@t", "t:abc", "[::1", "[::1]x",
                             "t:80:80", "t\tx", "[zz]"})
        CHECK_MESSAGE(!valid_host(host), host);
}

TEST_CASE("only a single final chunked is an accepted transfer coding") {
    CHECK(only_chunked(",chunked"));
    CHECK(only_chunked(",  ChUnKeD "));
    CHECK(only_chunked(", , chunked"));
    CHECK_FALSE(only_chunked(","));
    CHECK_FALSE(only_chunked(",chunked, identity"));
    CHECK_FALSE(only_chunked(",gzip, chunked"));
    CHECK_FALSE(only_chunked(",chunked,chunked"));
    CHECK_FALSE(only_chunked(",xchunked"));
    CHECK_FALSE(only_chunked(",identity"));
}
