#pragma once
// Test-only: keys and certificates made at test time with OpenSSL (no private key is kept in the
// repository), written as PEM (tests/server/tls_*_test.cpp).

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

namespace httpy::test {

/// A P-256 key and an X.509 certificate for it, signed by `issuer` (or by itself), as PEM.
class test_certificate {
public:
    /// A certificate whose common name is `name`, valid for a day; `issuer` null: self-signed.
    explicit test_certificate(const std::string& name,
                              const test_certificate* issuer = nullptr)
        : key_(EVP_EC_gen("P-256"), EVP_PKEY_free), cert_(X509_new(), X509_free) {
        if (!key_ || !cert_)
            throw std::runtime_error("cannot make a test key");
        X509* x = cert_.get();
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial());
        X509_gmtime_adj(X509_getm_notBefore(x), -60);
        X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
        X509_set_pubkey(x, key_.get());
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(name.c_str()),
                                   -1, -1, 0);
        const test_certificate& signer = issuer ? *issuer : *this;
        X509_set_issuer_name(x, X509_get_subject_name(signer.cert_.get()));
        if (X509_sign(x, signer.key_.get(), EVP_sha256()) <= 0)
            throw std::runtime_error("cannot sign a test certificate");
    }

    std::string certificate_pem() const {
        return to_pem([this](BIO* b) { return PEM_write_bio_X509(b, cert_.get()); });
    }

    std::string key_pem() const {
        return to_pem([this](BIO* b) {
            return PEM_write_bio_PrivateKey(b, key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
        });
    }

    /// Writes the certificate to `certfile` and the key to `keyfile`.
    void write(const std::string& certfile, const std::string& keyfile) const;

    /// The key encrypted with `passphrase`.
    std::string encrypted_key_pem(const std::string& passphrase) const {
        return to_pem([&](BIO* b) {
            return PEM_write_bio_PrivateKey(
                b, key_.get(), EVP_aes_128_cbc(),
                reinterpret_cast<const unsigned char*>(passphrase.data()),
                static_cast<int>(passphrase.size()), nullptr, nullptr);
        });
    }

private:
    static long& serial() {
        static long n = 0;
        return n;
    }

    template <class Write>
    static std::string to_pem(Write write) {
        std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
        if (write(bio.get()) != 1)
            throw std::runtime_error("cannot write PEM");
        char* data = nullptr;
        const long n = BIO_get_mem_data(bio.get(), &data);
        return std::string(data, static_cast<std::size_t>(n));
    }

    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
    std::unique_ptr<X509, decltype(&X509_free)> cert_;
};

/// Writes `text` to `path` (replacing it).
inline void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out)
        throw std::runtime_error("cannot write " + path);
}

inline void test_certificate::write(const std::string& certfile,
                                    const std::string& keyfile) const {
    write_file(certfile, certificate_pem());
    write_file(keyfile, key_pem());
}

/// The common name of `cert`'s subject ("" without a certificate).
inline std::string common_name(X509* cert) {
    char name[256] = {};
    if (cert)
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof name);
    return name;
}

} // namespace httpy::test
