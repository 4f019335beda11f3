#include "server/request_error.hpp"

#include <doctest/doctest.h>

using httpy::detail::check_transfer_codings;
using httpy::detail::request_error;
using httpy::detail::status_of;
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
    for (const char* codings : {",chunked", ",  ChUnKeD ", ", , chunked", ", chunked\t"})
        CHECK_MESSAGE(!check_transfer_codings(codings), codings);
}

TEST_CASE("a well-formed transfer coding before a final chunked is not implemented (501)") {
    for (const char* codings : {",gzip, chunked", ",deflate, chunked", ",gzip,chunked",
                                ",gzip;q=1, chunked", ",x-custom, gzip, chunked"}) {
        CHECK_MESSAGE(check_transfer_codings(codings) == request_error::unsupported_transfer_coding,
                      codings);
    }
    CHECK(status_of(request_error::unsupported_transfer_coding) == 501);
}

TEST_CASE("chunked that is not final, repeated or beside a malformed coding is a bad request") {
    for (const char* codings : {",", ",chunked, identity", ",chunked, gzip", ",chunked,chunked",
                                ",gzip, chunked, chunked", ",xchunked", ",identity", ",gzip",
                                ",chunked-false", ",g@zip, chunked", ",\"gzip\", chunked",
                                ",;q=1, chunked"}) {
        CHECK_MESSAGE(check_transfer_codings(codings) == request_error::bad_transfer_encoding,
                      codings);
    }
    CHECK(status_of(request_error::bad_transfer_encoding) == 400);
}

TEST_CASE("each refusal has its status: 400, 431 for too many fields, 501, 505") {
    CHECK(status_of(request_error::connect_method) == 501);
    CHECK(status_of(request_error::method_too_long) == 501);
    CHECK(status_of(request_error::too_many_headers) == 431);
    CHECK(status_of(request_error::too_many_query_params) == 400);
    CHECK(status_of(request_error::bad_target) == 400);
    CHECK(status_of(request_error::missing_host) == 400);
    CHECK(status_of(request_error::unsupported_version) == 505);
}
