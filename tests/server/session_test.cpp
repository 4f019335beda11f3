#include "httpy/server.hpp"

#include "httpy/router.hpp"
#include "raw_client.hpp"
#include "running_server.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using namespace std::chrono_literals;
using httpy::test::close_outcome;
using httpy::test::raw_client;
using httpy::test::running_server;

namespace {

// Sends `requests` on one connection and reads until the server has sent `until` (or closes).
std::string exchange(unsigned short port, const std::string& requests, const std::string& until) {
    raw_client client(port);
    client.send(requests);
    return client.read_until(until);
}

} // namespace

TEST_CASE("a native handler that throws gets 500 and the connection serves the next request") {
    httpy::router routes;
    routes.get("/boom", [](const httpy::request&) -> httpy::response {
        throw std::runtime_error("native failure");
    });
    routes.get("/ok", [](const httpy::request&) { return httpy::response{200, "fine", {}}; });
    const running_server server(routes);
    const std::string requests =
        "GET /boom HTTP/1.1\r\nHost: t\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\n\r\n";
    const std::string received = exchange(server.port(), requests, "fine");
    CHECK(received.starts_with("HTTP/1.1 500 "));
    CHECK(received.find("HTTP/1.1 200 ") != std::string::npos);
    CHECK(received.ends_with("fine"));
}

TEST_CASE("a native handler throwing something that is not a std::exception also gets 500") {
    httpy::router routes;
    routes.get("/boom", [](const httpy::request&) -> httpy::response { throw 42; });
    const running_server server(routes);
    const std::string received =
        exchange(server.port(), "GET /boom HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                 "\r\n\r\n");
    CHECK(received.starts_with("HTTP/1.1 500 "));
}

namespace {

// GET and POST on /thing (answered with the method, the path and the body), PUT on /put-only.
httpy::router thing_routes() {
    httpy::router routes;
    auto answer = [](const httpy::request& req) {
        httpy::response r{200, req.method + " " + req.path + " " + req.body, {}};
        r.headers.add("X-Method", req.method);
        return r;
    };
    routes.get("/thing", answer);
    routes.post("/thing", answer);
    routes.put("/put-only", answer);
    routes.get("/closing", [](const httpy::request&) {
        httpy::response r{200, "bye", {}};
        r.headers.add("Connection", "close");
        return r;
    });
    return routes;
}

// A server of thing_routes() with the test options, and a client connected to it.
struct thing_server {
    const httpy::router routes = thing_routes();
    const running_server server{routes};
    raw_client client{server.port()};
};

httpy::server_options with_timeouts(std::chrono::milliseconds head, std::chrono::milliseconds body,
                                    std::chrono::milliseconds idle) {
    httpy::server_options o = httpy::test::test_options();
    o.header_timeout = head;
    o.body_timeout = body;
    o.idle_timeout = idle;
    return o;
}

} // namespace

TEST_CASE_FIXTURE(
    thing_server,
    "HEAD on a GET route answers the GET's headers and Content-Length without the body") {
    // HEAD then GET pipelined: a body after the HEAD's head would garble the GET's status line.
    client.send("HEAD /thing HTTP/1.1\r\nHost: t\r\n\r\nGET /thing HTTP/1.1\r\nHost: t\r\n\r\n");
    const auto head = client.read_response(true);
    REQUIRE(head);
    CHECK(head->status == 200);
    CHECK(head->header("X-Method") == "HEAD"); // the handler sees the method as sent
    CHECK(head->header("Content-Length") == std::to_string(std::string("HEAD /thing ").size()));
    const auto get = client.read_response();
    REQUIRE(get);
    CHECK(get->status == 200);
    CHECK(get->body == "GET /thing ");
}

TEST_CASE("a HEAD route of its own answers HEAD instead of the GET route") {
    httpy::router routes = thing_routes();
    routes.add(httpy::method::head, "/thing", [](const httpy::request&) {
        httpy::response r{200, "12345678", {}};
        r.headers.add("X-Own", "head");
        return r;
    });
    const running_server server(routes);
    raw_client client(server.port());
    client.send("HEAD /thing HTTP/1.1\r\nHost: t\r\n\r\nGET /thing HTTP/1.1\r\nHost: t\r\n\r\n");
    const auto head = client.read_response(true);
    REQUIRE(head);
    CHECK(head->header("X-Own") == "head");
    CHECK(head->header("Content-Length") == "8");
    const auto get = client.read_response();
    REQUIRE(get);
    CHECK(get->body == "GET /thing ");
}

TEST_CASE_FIXTURE(
    thing_server,
    "Expect: 100-continue gets 100 Continue before the body is sent, then the answer") {
    client.send("POST /thing HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                "Expect: 100-continue\r\n\r\n");
    const auto interim = client.read_response();
    REQUIRE(interim);
    CHECK(interim->version == "HTTP/1.1");
    CHECK(interim->status == 100);
    CHECK(interim->headers.empty());
    client.send("hello");
    const auto final = client.read_response();
    REQUIRE(final);
    CHECK(final->status == 200);
    CHECK(final->body == "POST /thing hello");
}

TEST_CASE_FIXTURE(thing_server,
                  "Expect: 100-continue from an HTTP/1.0 client gets no 100 Continue") {
    client.send("POST /thing HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    CHECK(client.read_until("\r\n\r\n", 300ms).empty()); // the server waits for the body
    client.send("hello");
    const auto r = client.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->version == "HTTP/1.0");
    CHECK(r->body == "POST /thing hello");
}

TEST_CASE("Expect: 100-continue with a Content-Length over the limit gets 413, not 100") {
    const httpy::router routes = thing_routes();
    httpy::server_options options = httpy::test::test_options();
    options.max_body_bytes = 100;
    const running_server server(routes, options);
    raw_client client(server.port());
    client.send("POST /thing HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n"
                "Expect: 100-continue\r\n\r\n");
    const auto r = client.read_response();
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(r->header("Connection") == "close");
    CHECK(client.wait_for_close() == close_outcome::closed);
}

TEST_CASE_FIXTURE(thing_server, "a path no route has gets 404 and the connection serves on") {
    client.send("GET /no/such/thing HTTP/1.1\r\nHost: t\r\n\r\n"
                "GET /thing HTTP/1.1\r\nHost: t\r\n\r\n");
    const auto missing = client.read_response();
    REQUIRE(missing);
    CHECK(missing->status == 404);
    CHECK(missing->all("Connection").empty());
    const auto found = client.read_response();
    REQUIRE(found);
    CHECK(found->status == 200);
}

TEST_CASE_FIXTURE(
    thing_server,
    "a path without the request's method gets 405 with Allow listing the path's methods") {
    client.send("DELETE /thing HTTP/1.1\r\nHost: t\r\n\r\nPOST /put-only HTTP/1.1\r\nHost: t\r\n"
                "Content-Length: 0\r\n\r\nGET /thing HTTP/1.1\r\nHost: t\r\n\r\n");
    const auto r = client.read_response();
    REQUIRE(r);
    CHECK(r->status == 405);
    const auto allow = r->all("Allow");
    REQUIRE(allow.size() == 1);
    CHECK(allow[0].find("GET") != std::string::npos);
    CHECK(allow[0].find("POST") != std::string::npos);
    CHECK(allow[0].find("DELETE") == std::string::npos);
    CHECK(allow[0].find("PUT") == std::string::npos);
    const auto put_only = client.read_response();
    REQUIRE(put_only);
    CHECK(put_only->status == 405);
    CHECK(put_only->header("Allow") == "PUT");
    const auto after = client.read_response();
    REQUIRE(after);
    CHECK(after->status == 200); // a 405 does not close the connection
}

TEST_CASE_FIXTURE(thing_server, "OPTIONS * is answered by the server itself with an empty 200") {
    client.send("OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
    const auto r = client.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("Content-Length") == "0");
}

TEST_CASE_FIXTURE(thing_server,
                  "a handler's Connection: close closes the connection after its response") {
    client.send("GET /closing HTTP/1.1\r\nHost: t\r\n\r\nGET /thing HTTP/1.1\r\nHost: t\r\n\r\n");
    const auto r = client.read_response();
    REQUIRE(r);
    CHECK(r->body == "bye");
    CHECK(r->all("Connection") == std::vector<std::string>{"close"});
    CHECK(client.wait_for_close() == close_outcome::closed); // the pipelined GET is not answered
}

TEST_CASE("a client too slow with its head gets 408 and then the close") {
    const httpy::router routes = thing_routes();
    const running_server server(routes, with_timeouts(300ms, 30s, 30s));
    raw_client client(server.port());
    client.send("GET /thing HTTP/1.1\r\nHost: t\r\n");
    const auto r = client.read_response(false, 10s);
    REQUIRE_MESSAGE(r, "no 408, received: ", client.pending());
    CHECK(r->status == 408);
    CHECK(r->header("Connection") == "close");
    CHECK(client.wait_for_close() == close_outcome::closed);
}

TEST_CASE("a client too slow with its body gets 408 and then the close") {
    const httpy::router routes = thing_routes();
    const running_server server(routes, with_timeouts(30s, 300ms, 30s));
    raw_client client(server.port());
    client.send("POST /thing HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345");
    const auto r = client.read_response(false, 10s);
    REQUIRE_MESSAGE(r, "no 408, received: ", client.pending());
    CHECK(r->status == 408);
    CHECK(client.wait_for_close() == close_outcome::closed);
}

TEST_CASE("an idle keep-alive connection is closed at the idle timeout, not before") {
    const httpy::router routes = thing_routes();
    const running_server server(routes, with_timeouts(30s, 30s, 500ms));
    raw_client client(server.port());
    client.send("GET /thing HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(client.read_response());
    CHECK(client.wait_for_close(300ms) == close_outcome::timed_out);
    CHECK(client.wait_for_close(10s) == close_outcome::closed);
}

TEST_CASE("a client still sending a body over the limit reads the 413, not a reset") {
    const httpy::router routes = thing_routes();
    httpy::server_options options = httpy::test::test_options();
    options.max_body_bytes = 1000;
    const running_server server(routes, options);
    raw_client client(server.port());
    // 8 MiB do not fit in loopback's socket buffers: the send completes only because the
    // server reads and drops the rest of the body after its answer.
    const std::size_t size = 8 << 20;
    client.send("POST /thing HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(size) +
                "\r\n\r\n");
    CHECK_NOTHROW(client.send(std::string(size, 'a')));
    const auto r = client.read_response();
    REQUIRE(r);
    CHECK(r->status == 413);
}
