#include "server/forwarded.hpp"

#include "httpy/config_error.hpp"
#include "httpy/request.hpp"

#include <doctest/doctest.h>

#include <string>

using httpy::detail::apply_proxy_headers;
using httpy::detail::trusted_proxies;

namespace {

httpy::request from(const std::string& peer, httpy::fields headers) {
    httpy::request req("GET", "/", {}, {}, std::move(headers));
    req.remote_address = peer;
    req.remote_port = 5555;
    return req;
}

std::string host_of(const httpy::request& req) {
    const auto* h = req.headers.find("Host");
    return h ? h->front() : std::string();
}

} // namespace

TEST_CASE("trusted proxies are addresses, CIDR ranges or every peer") {
    const trusted_proxies list("127.0.0.1, ::1,10.0.0.0/8,2001:db8::/32");
    CHECK(list.trusts("127.0.0.1"));
    CHECK(list.trusts("::1"));
    CHECK(list.trusts("10.200.3.4"));
    CHECK(list.trusts("2001:db8:1::5"));
    CHECK(list.trusts("::ffff:10.1.1.1")); // IPv4-mapped: judged as IPv4
    CHECK_FALSE(list.trusts("127.0.0.2"));
    CHECK_FALSE(list.trusts("11.0.0.1"));
    CHECK_FALSE(list.trusts("2001:db9::1"));
    CHECK_FALSE(list.trusts("not an address"));
    CHECK(trusted_proxies("*").trusts("203.0.113.9"));
    CHECK_FALSE(trusted_proxies("").trusts("127.0.0.1"));
}

TEST_CASE("an entry that is neither an address nor a range is refused with its text") {
    for (const char* bad : {"localhost", "10.0.0.0/33", "::/129", "10.0.0.0/", "1.2.3.4/x"}) {
        CAPTURE(bad);
        try {
            trusted_proxies list(bad);
            FAIL("accepted");
        } catch (const httpy::config_error& e) {
            CHECK(std::string(e.what()).find(std::string("\"") + bad + "\"") != std::string::npos);
        }
    }
}

TEST_CASE("the client is the rightmost X-Forwarded-For hop that is not trusted") {
    const trusted_proxies proxies("127.0.0.1,10.0.0.0/8");
    // a client-sent spoofed hop on the left is ignored: the proxy appended the real one
    auto req = from("127.0.0.1", {{"X-Forwarded-For", {"6.6.6.6, 198.51.100.7, 10.0.0.2"}},
                                  {"X-Forwarded-Proto", {"https"}}});
    apply_proxy_headers(proxies, req);
    CHECK(req.remote_address == "198.51.100.7");
    CHECK(req.remote_port == 0);
    CHECK(req.scheme == "https");
    CHECK(req.headers.find("X-Forwarded-For")->front() == "6.6.6.6, 198.51.100.7, 10.0.0.2");
}

TEST_CASE("several X-Forwarded-For lines read as one list, and every trusted hop gives the leftmost") {
    const trusted_proxies proxies("*");
    auto req = from("127.0.0.1", {{"X-Forwarded-For", {"192.0.2.1", "10.0.0.1"}}});
    apply_proxy_headers(proxies, req);
    CHECK(req.remote_address == "192.0.2.1");
}

TEST_CASE("a hop that is not an address ends the walk at the trusted hop after it") {
    const trusted_proxies proxies("127.0.0.1,10.0.0.0/8");
    auto req = from("127.0.0.1", {{"X-Forwarded-For", {"<script>, 10.0.0.9"}}});
    apply_proxy_headers(proxies, req);
    CHECK(req.remote_address == "10.0.0.9");
    auto garbage_only = from("127.0.0.1", {{"X-Forwarded-For", {"unknown"}}});
    apply_proxy_headers(proxies, garbage_only);
    CHECK(garbage_only.remote_address == "127.0.0.1");
    CHECK(garbage_only.remote_port == 5555);
}

TEST_CASE("Forwarded wins over X-Forwarded-For and gives port, proto and host") {
    const trusted_proxies proxies("127.0.0.1");
    auto req = from("127.0.0.1",
                    {{"Host", {"internal:8080"}},
                     {"Forwarded", {"for=6.6.6.6;proto=http", "for=\"[2001:db8::17]:4711\";"
                                                              "proto=https;host=example.com"}},
                     {"X-Forwarded-For", {"1.1.1.1"}}});
    apply_proxy_headers(proxies, req);
    CHECK(req.remote_address == "2001:db8::17");
    CHECK(req.remote_port == 4711);
    CHECK(req.scheme == "https");
    CHECK(host_of(req) == "example.com");
}

TEST_CASE("X-Forwarded-Proto and -Host pair with the client's hop, else the nearest proxy's") {
    const trusted_proxies proxies("127.0.0.1,10.0.0.1");
    auto same_length = from("127.0.0.1", {{"X-Forwarded-For", {"192.0.2.5, 10.0.0.1"}},
                                          {"X-Forwarded-Proto", {"https, http"}},
                                          {"X-Forwarded-Host", {"shop.example, mid.example"}}});
    apply_proxy_headers(proxies, same_length);
    CHECK(same_length.scheme == "https");
    CHECK(host_of(same_length) == "shop.example");
    auto shorter = from("127.0.0.1", {{"X-Forwarded-For", {"6.6.6.6, 192.0.2.5"}},
                                      {"X-Forwarded-Proto", {"https"}}});
    apply_proxy_headers(proxies, shorter);
    CHECK(shorter.remote_address == "192.0.2.5");
    CHECK(shorter.scheme == "https");
}

TEST_CASE("a scheme or host that is not one is ignored") {
    const trusted_proxies proxies("127.0.0.1");
    auto req = from("127.0.0.1", {{"Host", {"a.example"}},
                                  {"X-Forwarded-For", {"192.0.2.5"}},
                                  {"X-Forwarded-Proto", {"gopher"}},
                                  {"X-Forwarded-Host", {"bad host\r\nX: y"}}});
    apply_proxy_headers(proxies, req);
    CHECK(req.scheme == "http");
    CHECK(host_of(req) == "a.example");
}

TEST_CASE("without a hop list, X-Forwarded-Proto alone still sets the scheme") {
    const trusted_proxies proxies("127.0.0.1");
    auto req = from("127.0.0.1", {{"X-Forwarded-Proto", {"https"}}});
    apply_proxy_headers(proxies, req);
    CHECK(req.scheme == "https");
    CHECK(req.remote_address == "127.0.0.1");
}
