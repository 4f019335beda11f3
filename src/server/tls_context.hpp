#pragma once

#include "httpy/server_options.hpp"

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace httpy::detail {

/// The PEM files a TLS server is made of.
struct tls_files {
    /// The server's certificate, then the rest of its chain.
    std::string certfile;
    /// Its private key (unencrypted); the certificate file when the key is in it.
    std::string keyfile;
    /// The CA certificates client certificates are verified against; empty: none asked for.
    std::string ca_certs;
};

/// The TLS files `options` names; nullopt for plain HTTP (no `certfile`).
/// Throws: config_error when `keyfile` or `ca_certs` is set without `certfile`.
std::optional<tls_files> tls_files_of(const server_options& options);

/// A new server SSL context from `files`: TLS 1.2 minimum; for TLS 1.2 Mozilla's "intermediate"
/// ciphers (ECDHE and DHE with AES-GCM or ChaCha20-Poly1305; OpenSSL's TLS 1.3 suites); no
/// renegotiation, no compression; ALPN selects `http/1.1` (a client offering only other
/// protocols is refused); with `ca_certs`, a client certificate signed by one of them is
/// required. Nothing is cached: the files are read now.
/// Throws: config_error naming the file that cannot be read, that holds no PEM certificate
/// (or key), or whose key does not match the certificate.
std::shared_ptr<boost::asio::ssl::context> load_tls_context(const tls_files& files);

/// The SSL context new connections start with, which `reload` replaces. A connection keeps a
/// share of the context it started with, so connections open during a reload carry on with
/// the old certificate until they close. Thread-safe.
class tls_context {
public:
    /// Throws: config_error, as load_tls_context.
    explicit tls_context(tls_files files);

    /// The context for a connection accepted now.
    std::shared_ptr<boost::asio::ssl::context> current() const;

    /// Reads the files again for the connections accepted from now on.
    /// Throws: config_error, as load_tls_context; the current context then stays in use.
    void reload();

    /// The files it reads.
    const tls_files& files() const noexcept { return files_; }

private:
    const tls_files files_;
    mutable std::mutex mu_;
    std::shared_ptr<boost::asio::ssl::context> current_; // guarded by mu_
};

} // namespace httpy::detail
