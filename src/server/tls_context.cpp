#include "server/tls_context.hpp"

#include "httpy/config_error.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>
#include <utility>

namespace httpy::detail {

namespace net = boost::asio;

namespace {

// Mozilla's "intermediate" configuration (version 5.7) for TLS 1.2; TLS 1.3 keeps OpenSSL's
// suites, which are the same three.
constexpr const char* intermediate_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* intermediate_groups = "X25519:prime256v1:secp384r1";
constexpr unsigned char session_id_context[] = "httpy";

using bio_ptr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using x509_ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using key_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

// The reason OpenSSL gives for what just failed, its error queue then emptied.
std::string openssl_reason() {
    const unsigned long code = ERR_peek_last_error();
    ERR_clear_error();
    const char* reason = code ? ERR_reason_error_string(code) : nullptr;
    return reason ? reason : "not PEM";
}

[[noreturn]] void fail(std::string_view what, const std::string& path, std::string_view why) {
    throw config_error("TLS " + std::string(what) + " file \"" + path + "\": " +
                       std::string(why));
}

std::string read_file(std::string_view what, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(what, path, std::string("cannot be read: ") + std::strerror(errno));
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad())
        fail(what, path, std::string("cannot be read: ") + std::strerror(errno));
    return text;
}

bio_ptr memory_bio(const std::string& text) {
    return {BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free};
}

// The passphrase callback: none is ever given, so an encrypted key fails to load rather than
// OpenSSL prompting on the terminal.
extern "C" int no_passphrase(char*, int, int, void*) { return -1; }

// The certificate, then every further certificate of the file as its chain.
void use_certificate_chain(SSL_CTX* ctx, const std::string& path) {
    const std::string pem = read_file("certificate", path);
    auto bio = memory_bio(pem);
    x509_ptr leaf(PEM_read_bio_X509_AUX(bio.get(), nullptr, no_passphrase, nullptr), X509_free);
    if (!leaf)
        fail("certificate", path, "holds no PEM certificate (" + openssl_reason() + ")");
    if (SSL_CTX_use_certificate(ctx, leaf.get()) != 1)
        fail("certificate", path, "unusable certificate (" + openssl_reason() + ")");
    while (X509* next = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr))
        if (SSL_CTX_add0_chain_cert(ctx, next) != 1) {
            X509_free(next);
            fail("certificate", path, "unusable chain certificate (" + openssl_reason() + ")");
        }
    ERR_clear_error(); // the end of the file reads as "no start line"
}

void use_private_key(SSL_CTX* ctx, const tls_files& files) {
    const std::string pem = read_file("key", files.keyfile);
    auto bio = memory_bio(pem);
    key_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr),
                EVP_PKEY_free);
    if (!key)
        fail("key", files.keyfile,
             "holds no unencrypted PEM private key (" + openssl_reason() + ")");
    if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        fail("key", files.keyfile, "does not match the certificate in \"" + files.certfile + "\"");
    }
}

// Client certificates: required, and verified against the CAs of `path`, whose names the
// server sends in its certificate request.
void require_client_certificates(SSL_CTX* ctx, const std::string& path) {
    const std::string pem = read_file("CA certificates", path);
    auto bio = memory_bio(pem);
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    int count = 0;
    while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)) {
        const x509_ptr owned(ca, X509_free);
        if (X509_STORE_add_cert(store, ca) != 1 || SSL_CTX_add_client_CA(ctx, ca) != 1)
            fail("CA certificates", path, "unusable certificate (" + openssl_reason() + ")");
        ++count;
    }
    if (count == 0)
        fail("CA certificates", path, "holds no PEM certificate (" + openssl_reason() + ")");
    ERR_clear_error();
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
}

// ALPN: http/1.1 when the client offers it; a client that offers only protocols this server
// does not speak gets the fatal alert RFC 7301 asks for.
extern "C" int select_http11(SSL*, const unsigned char** out, unsigned char* out_length,
                             const unsigned char* offered, unsigned offered_length, void*) {
    static constexpr unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_length, http11, sizeof http11, offered,
                              offered_length) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

void set_policy(SSL_CTX* ctx) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_cipher_list(ctx, intermediate_ciphers);
    SSL_CTX_set1_groups_list(ctx, intermediate_groups);
    SSL_CTX_set_dh_auto(ctx, 1);
    SSL_CTX_set_alpn_select_cb(ctx, select_http11, nullptr);
    // Resumed sessions must find their context (or the handshake fails with client certificates).
    SSL_CTX_set_session_id_context(ctx, session_id_context, sizeof session_id_context - 1);
    // An idle keep-alive connection gives its record buffers back.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
}

} // namespace

std::optional<tls_files> tls_files_of(const server_options& options) {
    if (options.certfile.empty()) {
        if (!options.keyfile.empty())
            throw config_error("a TLS key file is set without a certificate file");
        if (!options.ca_certs.empty())
            throw config_error("TLS CA certificates are set without a certificate file");
        return std::nullopt;
    }
    return tls_files{.certfile = options.certfile,
                     .keyfile = options.keyfile.empty() ? options.certfile : options.keyfile,
                     .ca_certs = options.ca_certs};
}

std::shared_ptr<net::ssl::context> load_tls_context(const tls_files& files) {
    auto context = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
    SSL_CTX* ctx = context->native_handle();
    set_policy(ctx);
    use_certificate_chain(ctx, files.certfile);
    use_private_key(ctx, files);
    if (!files.ca_certs.empty())
        require_client_certificates(ctx, files.ca_certs);
    return context;
}

tls_context::tls_context(tls_files files)
    : files_(std::move(files)), current_(load_tls_context(files_)) {}

std::shared_ptr<net::ssl::context> tls_context::current() const {
    std::lock_guard lock(mu_);
    return current_;
}

void tls_context::reload() {
    auto fresh = load_tls_context(files_); // outside the lock: it reads files
    std::lock_guard lock(mu_);
    current_ = std::move(fresh);
}

} // namespace httpy::detail
