#include "server/tls_session.hpp"

#include "httpy/body_file.hpp"
#include "httpy/router.hpp"
#include "httpy/server.hpp"
#include "raw_client.hpp"
#include "running_server.hpp"
#include "temp_dir.hpp"
#include "test_certificates.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <doctest/doctest.h>

#include <fcntl.h>

#include <chrono>
#include <optional>
#include <string>

using namespace std::chrono_literals;
namespace net = boost::asio;
namespace ssl = net::ssl;
using httpy::test::close_outcome;
using httpy::test::raw_client;
using httpy::test::running_server;
using httpy::test::temp_dir;
using httpy::test::test_certificate;
using httpy::test::write_file;

namespace {

// A blocking TLS client of 127.0.0.1:`port` that offers ALPN http/1.1 and trusts any
// certificate (the tests look at which one was served); every step fails after 5 s.
class tls_client {
public:
    explicit tls_client(unsigned short port) : context_(ssl::context::tls_client) {
        stream_.emplace(ioc_, context_);
        static constexpr unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
        SSL_set_alpn_protos(stream_->native_handle(), alpn, sizeof alpn);
        stream_->next_layer().connect({net::ip::make_address("127.0.0.1"), port});
        run([this](auto done) { stream_->async_handshake(ssl::stream_base::client, done); });
    }

    void send(const std::string& bytes) {
        run([&](auto done) { net::async_write(*stream_, net::buffer(bytes), done); });
    }

    // What arrives up to and including `marker` (kept after it stays for the next call).
    std::string read_until(const std::string& marker) {
        std::size_t n = 0;
        run([&](auto done) {
            net::async_read_until(*stream_, net::dynamic_buffer(pending_), marker,
                                  [&n, done](boost::system::error_code ec, std::size_t got) {
                                      n = got;
                                      done(ec);
                                  });
        });
        std::string head = pending_.substr(0, n);
        pending_.erase(0, n);
        return head;
    }

    // The common name of the certificate the server sent.
    std::string peer_name() {
        return httpy::test::common_name(SSL_get0_peer_certificate(stream_->native_handle()));
    }

    std::string alpn() {
        const unsigned char* p = nullptr;
        unsigned n = 0;
        SSL_get0_alpn_selected(stream_->native_handle(), &p, &n);
        return std::string(reinterpret_cast<const char*>(p), n);
    }

private:
    template <class Start>
    void run(Start start) {
        boost::system::error_code result = net::error::timed_out;
        ioc_.restart();
        start([&result](boost::system::error_code ec, auto&&...) { result = ec; });
        ioc_.run_for(5s);
        if (result)
            throw boost::system::system_error(result);
    }

    net::io_context ioc_;
    ssl::context context_;
    std::optional<ssl::stream<net::ip::tcp::socket>> stream_;
    std::string pending_;
};

// GET /scheme answers the request's scheme; GET /file answers bytes 7.. of `file` from disk.
httpy::router tls_routes(const std::string& file) {
    httpy::router routes;
    routes.get("/scheme", [](const httpy::request& req) {
        return httpy::response{200, req.scheme, {}};
    });
    routes.get("/file", [file](const httpy::request&) {
        const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(fd >= 0);
        const auto size = static_cast<std::uint64_t>(::lseek(fd, 0, SEEK_END));
        httpy::response r{200, "", {}};
        r.file = std::make_shared<httpy::body_file>(fd, 7, size - 7);
        return r;
    });
    return routes;
}

// tls_routes() over TLS with a self-signed certificate named "first" in a fresh folder (where
// body.txt is the file of /file); `options` may be changed until `start`.
struct tls_server {
    temp_dir dir;
    const std::string body_file = dir.file("body.txt");
    const httpy::router routes = tls_routes(body_file);
    httpy::server_options options = [this] {
        httpy::server_options o = httpy::test::test_options();
        o.certfile = dir.file("cert.pem");
        o.keyfile = dir.file("key.pem");
        return o;
    }();
    std::optional<running_server> server;

    tls_server() { test_certificate("first").write(options.certfile, options.keyfile); }

    // Starts the server; returns its port.
    unsigned short start() {
        server.emplace(routes, options);
        return server->port();
    }
};

const std::string get_scheme = "GET /scheme HTTP/1.1\r\nHost: t\r\n\r\n";

} // namespace

TEST_CASE("a request over TLS is answered, its scheme is https and ALPN chose http/1.1") {
    tls_server tls;
    tls_client client(tls.start());
    client.send(get_scheme);
    const std::string answer = client.read_until("https");
    CHECK(answer.starts_with("HTTP/1.1 200 "));
    CHECK(client.alpn() == "http/1.1");
    CHECK(client.peer_name() == "first");
}

TEST_CASE("pipelined requests over TLS are answered in order on one connection") {
    tls_server tls;
    tls_client client(tls.start());
    client.send(get_scheme + "GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n" + get_scheme);
    CHECK(client.read_until("https").starts_with("HTTP/1.1 200 "));
    CHECK(client.read_until("\r\n").starts_with("HTTP/1.1 404 "));
    const std::string third = client.read_until("https");
    CHECK(third.find("HTTP/1.1 200 ") != std::string::npos);
}

TEST_CASE("a file body goes through TLS whole, from its offset") {
    tls_server tls;
    std::string content;
    for (int i = 0; content.size() < 300'000; ++i)
        content += std::to_string(i) + ",";
    content += "END";
    write_file(tls.body_file, content);
    tls_client client(tls.start());
    client.send("GET /file HTTP/1.1\r\nHost: t\r\n\r\n");
    const std::string head = client.read_until("\r\n\r\n");
    CHECK(head.find("Content-Length: " + std::to_string(content.size() - 7)) != std::string::npos);
    CHECK(client.read_until("END") == content.substr(7));
}

TEST_CASE("a plain HTTP request on the TLS port is closed and the server serves on") {
    tls_server tls;
    const unsigned short port = tls.start();
    raw_client plain(port);
    plain.send(get_scheme);
    close_outcome outcome = plain.wait_for_close(3s);
    while (outcome == close_outcome::got_bytes) // a TLS alert, never an HTTP answer
        outcome = plain.wait_for_close(3s);
    CHECK(outcome != close_outcome::timed_out);
    CHECK(plain.pending().find("HTTP/") == std::string::npos);
    tls_client client(port);
    client.send(get_scheme);
    CHECK(client.read_until("https").starts_with("HTTP/1.1 200 "));
}

TEST_CASE("a client that never starts the handshake is closed at the handshake timeout") {
    tls_server tls;
    tls.options.tls_handshake_timeout = 300ms;
    raw_client silent(tls.start());
    const auto start = std::chrono::steady_clock::now();
    CHECK(silent.wait_for_close(5s) == close_outcome::closed);
    CHECK(std::chrono::steady_clock::now() - start >= 250ms);
}

TEST_CASE("after reload_tls new connections get the new certificate; open ones carry on") {
    tls_server tls;
    const unsigned short port = tls.start();
    REQUIRE(tls.server->get().tls());
    tls_client before(port);
    before.send(get_scheme);
    before.read_until("https");
    test_certificate("second").write(tls.options.certfile, tls.options.keyfile);
    tls.server->get().reload_tls();
    tls_client after(port);
    CHECK(after.peer_name() == "second");
    before.send(get_scheme);
    CHECK(before.read_until("https").starts_with("HTTP/1.1 200 "));
    CHECK(before.peer_name() == "first");
}

TEST_CASE("end_of_stream covers a client's close with and without close_notify") {
    CHECK(httpy::detail::end_of_stream(net::error::eof));
    CHECK(httpy::detail::end_of_stream(ssl::error::stream_truncated));
    CHECK_FALSE(httpy::detail::end_of_stream(net::error::operation_aborted));
}
