#include "server/access_log_format.hpp"

#include "httpy/config_error.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <new>
#include <string>
#include <string_view>

using httpy::detail::access_log_format;
using httpy::detail::exchange_record;

namespace {

std::atomic<std::size_t> allocations{0};

} // namespace

// Counted, so that a test can prove that formatting a line allocates nothing. GCC, seeing
// std::free meet a pointer from operator new once both are inlined, warns of a mismatch that
// these two definitions rule out.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
    ++allocations;
    if (void* p = std::malloc(size == 0 ? 1 : size))
        return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace {

using namespace std::chrono;
using namespace std::string_view_literals;

// The record of the header's examples.
exchange_record known_record() {
    exchange_record r;
    r.client_address = "203.0.113.7";
    r.client_port = 51234;
    r.method = "GET";
    r.target = "/a?b";
    r.version = 11;
    r.route = "/a";
    r.status = 200;
    r.response_body_bytes = 2326;
    r.user_agent = "curl/8.0";
    r.received = sys_days{2000y / October / 10} + 13h + 55min + 36s + 123456us;
    r.duration = 1234us + 400ns;
    return r;
}

std::string line(std::string_view spec, const exchange_record& r = known_record()) {
    std::string out;
    access_log_format(spec).append(r, out);
    return out;
}

std::string refusal(std::string_view spec) {
    try {
        access_log_format{spec};
    } catch (const httpy::config_error& e) {
        return e.what();
    }
    return "(accepted)";
}

// A record whose every text value holds what a client could try to forge lines with.
exchange_record hostile_record() {
    exchange_record r = known_record();
    r.target = "/a\"b\\c\nd";
    r.referer = "http://x/\r\n127.0.0.1 - - [forged]";
    r.user_agent = "ua\t\x01\x7f\x1b[31m";
    r.request_id = "id\"";
    return r;
}

} // namespace

TEST_CASE("common is Apache's common log format followed by the duration") {
    CHECK(line("common") ==
          "203.0.113.7 - - [10/Oct/2000:13:55:36 +0000] \"GET /a?b HTTP/1.1\" 200 2326 0.001234\n");
}

TEST_CASE("combined adds the referer and user agent, then the duration and the request id") {
    CHECK(line("combined") == "203.0.113.7 - - [10/Oct/2000:13:55:36 +0000] \"GET /a?b HTTP/1.1\" "
                              "200 2326 \"-\" \"curl/8.0\" 0.001234 -\n");
    exchange_record r = known_record();
    r.referer = "http://example.com/";
    r.request_id = "req-7";
    CHECK(line("combined", r) == "203.0.113.7 - - [10/Oct/2000:13:55:36 +0000] \"GET /a?b "
                                 "HTTP/1.1\" 200 2326 \"http://example.com/\" \"curl/8.0\" "
                                 "0.001234 req-7\n");
}

TEST_CASE("json is one object per line with every member in a fixed order") {
    CHECK(line("json") ==
          R"({"time":"2000-10-10T13:55:36.123Z","client":"203.0.113.7","client_port":51234,)"
          R"("method":"GET","target":"/a?b","version":"1.1","status":200,"request_bytes":0,)"
          R"("response_bytes":2326,"duration_s":0.001234,"route":"/a","request_id":null,)"
          R"("referer":null,"user_agent":"curl/8.0"})"
          "\n");
}

TEST_CASE("no response body shows as '-' in common and as 0 in json") {
    exchange_record r = known_record();
    r.response_body_bytes = 0;
    CHECK(line("common", r).find("\" 200 - 0.001234\n") != std::string::npos);
    CHECK(line("json", r).find(R"("response_bytes":0,)") != std::string::npos);
}

TEST_CASE("every placeholder of a template shows its field") {
    exchange_record r = known_record();
    r.version = 10;
    r.request_body_bytes = 17;
    r.request_id = "req-7";
    r.referer = "http://example.com/";
    CHECK(line("{client}|{client_port}|{method}|{target}|{version}|{status}|{request_bytes}|"
               "{response_bytes}|{response_bytes_clf}|{duration}|{duration_ms}|{duration_us}|"
               "{route}|{request_id}|{referer}|{user_agent}|{time}|{time_iso}",
               r) == "203.0.113.7|51234|GET|/a?b|1.0|200|17|2326|2326|0.001234|1.234|1234|/a|"
                     "req-7|http://example.com/|curl/8.0|10/Oct/2000:13:55:36 +0000|"
                     "2000-10-10T13:55:36.123Z\n");
}

TEST_CASE("empty or unknown values show as '-' in a template and as null in json") {
    exchange_record r;
    r.status = 400;
    r.received = sys_days{1970y / January / 1};
    CHECK(line("{client} {client_port} {method} {target} {route} {request_id} {referer} "
               "{user_agent} {response_bytes_clf} {response_bytes} {duration}",
               r) == "- - - - - - - - - 0 0.000000\n");
    CHECK(line("json", r) ==
          R"({"time":"1970-01-01T00:00:00.000Z","client":null,"client_port":null,)"
          R"("method":null,"target":null,"version":"1.1","status":400,"request_bytes":0,)"
          R"("response_bytes":0,"duration_s":0.000000,"route":null,"request_id":null,)"
          R"("referer":null,"user_agent":null})"
          "\n");
}

TEST_CASE("durations are rounded to the nearest microsecond") {
    exchange_record r = known_record();
    r.duration = 61s + 234567800ns;
    CHECK(line("{duration} {duration_ms} {duration_us}", r) ==
          "61.234568 61234.568 61234568\n");
    r.duration = 499ns;
    CHECK(line("{duration} {duration_ms} {duration_us}", r) == "0.000000 0.000 0\n");
    r.duration = -5ms;
    CHECK(line("{duration_us}", r) == "0\n");
}

TEST_CASE("doubled braces in a template are literal braces") {
    CHECK(line("{{status}} {{{status}}} }}") == "{status} {200} }\n");
}

TEST_CASE("an unknown placeholder is refused, naming it and the value") {
    const std::string why = refusal("{client} {nope}");
    CHECK(why.find("{nope}") != std::string::npos);
    CHECK(why.find("\"{client} {nope}\"") != std::string::npos);
    CHECK(why.find("{user_agent}") != std::string::npos); // the list of those there are
    CHECK_THROWS_AS(access_log_format{"{Status}"}, httpy::config_error);
}

TEST_CASE("an unclosed brace, a lone closing brace or a value without placeholders is refused") {
    CHECK(refusal("{status").find("no closing") != std::string::npos);
    CHECK(refusal("{status} }").find("lone") != std::string::npos);
    CHECK(refusal("comon").find("\"comon\"") != std::string::npos);
    CHECK(refusal("").find("no {placeholder}") != std::string::npos);
    CHECK(refusal("{{status}}").find("no {placeholder}") != std::string::npos);
}

TEST_CASE("quotes, backslashes and control characters become \\xHH in the text formats") {
    const exchange_record r = hostile_record();
    const std::string common = line("common", r);
    CHECK(common.find(R"("GET /a\x22b\x5Cc\x0Ad HTTP/1.1")") != std::string::npos);
    const std::string combined = line("combined", r);
    CHECK(combined.find(R"( "http://x/\x0D\x0A127.0.0.1 - - [forged]" )") != std::string::npos);
    CHECK(combined.find(R"( "ua\x09\x01\x7F\x1B[31m" )") != std::string::npos);
    CHECK(combined.ends_with(R"( id\x22)"
                             "\n"));
    for (const std::string& text : {common, combined, line("{referer}{user_agent}", r)})
        CHECK(std::count(text.begin(), text.end(), '\n') == 1);
}

TEST_CASE("every byte from 0x80 up becomes \\xHH in the text formats") {
    exchange_record r = known_record();
    r.target = "/caf\xc3\xa9/\xff";
    CHECK(line("{target}", r) == "/caf\\xC3\\xA9/\\xFF\n");
}

TEST_CASE("json escapes quotes, backslashes and control characters as RFC 8259 says") {
    exchange_record r = known_record();
    r.user_agent = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f";
    CHECK(line("json", r).find(R"("user_agent":"a\"b\\c\n\r\t\b\f\u0001\u001f\u007f"})") !=
          std::string::npos);
}

TEST_CASE("json keeps valid UTF-8 and writes each byte of invalid UTF-8 as \\u00XX") {
    exchange_record r = known_record();
    // é, €, U+1F600, then: a lone continuation byte, an overlong '/', a surrogate, a cut-off
    // sequence, a byte never used, a code point past U+10FFFF.
    r.target = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82|\xff|"
               "\xf4\x90\x80\x80";
    CHECK(line("json", r).find(R"("target":")"
                               "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                               R"(|\u0080|\u00c0\u00af|\u00ed\u00a0\u0080|\u00e2\u0082|\u00ff|)"
                               R"(\u00f4\u0090\u0080\u0080",)") != std::string::npos);
}

TEST_CASE("json lines with hostile values are valid UTF-8 and parse as JSON objects") {
    const httpy::test::temp_dir dir;
    exchange_record invalid = known_record();
    invalid.user_agent = "\xff\xfe\xc0\xaf\xed\xa0\x80\"\\\n";
    std::ofstream(dir.file("lines.json"), std::ios::binary)
        << line("json", hostile_record()) << line("json", invalid) << line("json");
    std::ofstream(dir.file("check.py")) << R"(import json, sys
keys = ["time", "client", "client_port", "method", "target", "version", "status",
        "request_bytes", "response_bytes", "duration_s", "route", "request_id", "referer",
        "user_agent"]
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert lines.pop() == b"" and len(lines) == 3, lines
for line in lines:
    value = json.loads(line.decode("utf-8"))
    assert list(value) == keys, value
assert json.loads(lines[0])["referer"] == "http://x/\r\n127.0.0.1 - - [forged]"
assert json.loads(lines[1])["user_agent"] == "\u00ff\u00fe\u00c0\u00af\u00ed\u00a0\u0080\"\\\n"
)";
    const std::string command =
        "/usr/bin/python3 " + dir.file("check.py") + " " + dir.file("lines.json");
    CHECK(std::system(command.c_str()) == 0);
}

TEST_CASE("formatting a line allocates nothing once the buffer has room") {
    const exchange_record r = hostile_record();
    const std::size_t at_start = allocations.load();
    CHECK(std::string(100, 'x').size() == 100);
    REQUIRE(allocations.load() > at_start); // the count sees allocations
    for (std::string_view spec : {"common"sv, "combined"sv, "json"sv, "{time} {time_iso}"sv}) {
        const access_log_format format{spec};
        std::string out;
        out.reserve(4096);
        const std::size_t before = allocations.load();
        format.append(r, out);
        format.append(r, out);
        CHECK(allocations.load() == before);
        CHECK(!out.empty());
    }
}
