#include "server/tls_context.hpp"

#include "httpy/config_error.hpp"
#include "temp_dir.hpp"
#include "test_certificates.hpp"

#include <doctest/doctest.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>

using httpy::config_error;
using httpy::detail::load_tls_context;
using httpy::detail::tls_context;
using httpy::detail::tls_files;
using httpy::test::temp_dir;
using httpy::test::test_certificate;
using httpy::test::write_file;

namespace {

// A folder with cert.pem and key.pem of one self-signed certificate named `name`.
struct certificate_files {
    temp_dir dir;
    tls_files files{.certfile = dir.file("cert.pem"), .keyfile = dir.file("key.pem")};

    explicit certificate_files(const std::string& name = "first") { write(test_certificate(name)); }

    void write(const test_certificate& c) const { c.write(files.certfile, files.keyfile); }
};

// The common name of the certificate a context serves.
std::string served_name(boost::asio::ssl::context& context) {
    return httpy::test::common_name(SSL_CTX_get0_certificate(context.native_handle()));
}

// The message of the config_error that loading `files` throws ("" when it loads).
std::string load_error(const tls_files& files) {
    try {
        load_tls_context(files);
    } catch (const config_error& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("a matching certificate and key load into a context serving that certificate") {
    const certificate_files f("served");
    const auto context = load_tls_context(f.files);
    REQUIRE(context != nullptr);
    CHECK(served_name(*context) == "served");
    CHECK(SSL_CTX_get_min_proto_version(context->native_handle()) == TLS1_2_VERSION);
    CHECK((SSL_CTX_get_verify_mode(context->native_handle()) & SSL_VERIFY_PEER) == 0);
}

TEST_CASE("a key kept in the certificate file loads when no key file is given") {
    const certificate_files f;
    const test_certificate both("both");
    write_file(f.files.certfile, both.certificate_pem() + both.key_pem());
    httpy::server_options options;
    options.certfile = f.files.certfile;
    const auto files = httpy::detail::tls_files_of(options);
    REQUIRE(files.has_value());
    CHECK(files->keyfile == f.files.certfile);
    CHECK(served_name(*load_tls_context(*files)) == "both");
}

TEST_CASE("a missing certificate file is refused with its name and the reason") {
    certificate_files f;
    f.files.certfile = f.dir.file("missing.pem");
    const std::string message = load_error(f.files);
    CHECK(message.find(f.files.certfile) != std::string::npos);
    CHECK(message.find("No such file or directory") != std::string::npos);
}

TEST_CASE("a certificate file that is not PEM is refused with its name") {
    const certificate_files f;
    write_file(f.files.certfile, "this is not a certificate\n");
    const std::string message = load_error(f.files);
    CHECK(message.find(f.files.certfile) != std::string::npos);
    CHECK(message.find("no PEM certificate") != std::string::npos);
}

TEST_CASE("a key file that is not PEM is refused with its name") {
    const certificate_files f;
    write_file(f.files.keyfile, test_certificate("other").certificate_pem());
    const std::string message = load_error(f.files);
    CHECK(message.find(f.files.keyfile) != std::string::npos);
    CHECK(message.find("no unencrypted PEM private key") != std::string::npos);
}

TEST_CASE("an encrypted key is refused rather than asking for a passphrase") {
    const certificate_files f;
    const test_certificate c("locked");
    write_file(f.files.certfile, c.certificate_pem());
    write_file(f.files.keyfile, c.encrypted_key_pem("secret"));
    CHECK(load_error(f.files).find(f.files.keyfile) != std::string::npos);
}

TEST_CASE("a key that does not match the certificate is refused naming both files") {
    const certificate_files f;
    write_file(f.files.keyfile, test_certificate("other").key_pem());
    const std::string message = load_error(f.files);
    CHECK(message.find("does not match") != std::string::npos);
    CHECK(message.find(f.files.keyfile) != std::string::npos);
    CHECK(message.find(f.files.certfile) != std::string::npos);
}

TEST_CASE("CA certificates make client certificates required") {
    certificate_files f;
    f.files.ca_certs = f.dir.file("ca.pem");
    write_file(f.files.ca_certs, test_certificate("client CA").certificate_pem());
    const auto context = load_tls_context(f.files);
    const int mode = SSL_CTX_get_verify_mode(context->native_handle());
    CHECK((mode & SSL_VERIFY_PEER) != 0);
    CHECK((mode & SSL_VERIFY_FAIL_IF_NO_PEER_CERT) != 0);
}

TEST_CASE("a CA file with no certificate in it is refused with its name") {
    certificate_files f;
    f.files.ca_certs = f.dir.file("ca.pem");
    write_file(f.files.ca_certs, "nothing here\n");
    const std::string message = load_error(f.files);
    CHECK(message.find(f.files.ca_certs) != std::string::npos);
    CHECK(message.find("no PEM certificate") != std::string::npos);
}

TEST_CASE("a key file or CA certificates without a certificate file are a setup error") {
    httpy::server_options options;
    CHECK_FALSE(httpy::detail::tls_files_of(options).has_value());
    options.keyfile = "key.pem";
    CHECK_THROWS_AS(httpy::detail::tls_files_of(options), config_error);
    options.keyfile.clear();
    options.ca_certs = "ca.pem";
    CHECK_THROWS_AS(httpy::detail::tls_files_of(options), config_error);
}

TEST_CASE("a reload serves the new certificate while a context handed out before lives on") {
    const certificate_files f("first");
    tls_context tls(f.files);
    const auto before = tls.current();
    f.write(test_certificate("second"));
    tls.reload();
    CHECK(served_name(*tls.current()) == "second");
    CHECK(served_name(*before) == "first");
}

TEST_CASE("a reload that fails keeps the context in use") {
    const certificate_files f("first");
    tls_context tls(f.files);
    const auto before = tls.current();
    write_file(f.files.keyfile, test_certificate("other").key_pem()); // mismatched now
    CHECK_THROWS_AS(tls.reload(), config_error);
    CHECK(tls.current() == before);
    write_file(f.files.certfile, "garbage");
    CHECK_THROWS_AS(tls.reload(), config_error);
    CHECK(tls.current() == before);
    CHECK(served_name(*tls.current()) == "first");
}
