#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace httpy {

/// Every limit and timeout of the HTTP server, with its default. `httpy serve --help` lists
/// them; each also reads from an `HTTPY_*` environment variable.
struct server_options {
    /// Address and port to listen on; port 0 picks a free one (see `server::port`).
    std::string host = "127.0.0.1";
    unsigned short port = 8080;
    /// Threads running the io_context; 0: one per core. One is the default: Python calls run
    /// on the IO thread under one GIL, and on 2 cores a second IO thread costs more in
    /// wake-ups than it adds (docs/benchmarks.md); worker processes are the way past one core.
    std::size_t io_threads = 1;
    /// Largest request line plus headers; larger gets 431.
    std::size_t max_header_bytes = 16 * 1024;
    /// Largest request body; larger gets 413.
    std::size_t max_body_bytes = 1024 * 1024;
    /// A request body larger than this is written to an unlinked temporary file in `$TMPDIR`
    /// as it arrives instead of being held in memory: the handler gets it in
    /// `request::body_spool`, with `request::body` empty. 0 (the default) keeps every body in
    /// memory, so a native handler always finds it in `body`; `httpy serve` sets 1 MiB, and the
    /// Python interfaces read a spooled body from the file (see docs/wsgi.md).
    std::size_t spool_body_above = 0;
    /// Most header field lines in a request (Host included); more gets 431. Apache's
    /// LimitRequestFields default.
    std::size_t max_header_count = 100;
    /// Most query parameters (non-empty `&`-separated pairs) in a target; more gets 400. The
    /// default of Django (DATA_UPLOAD_MAX_NUMBER_FIELDS) and PHP (max_input_vars).
    std::size_t max_query_params = 1000;
    /// Time a client has to send the request line and headers once it started; then 408.
    std::chrono::milliseconds header_timeout{10'000};
    /// Time a client has to send the body once the headers are in; then 408.
    std::chrono::milliseconds body_timeout{10'000};
    /// Time an idle keep-alive connection is kept open waiting for the next request.
    std::chrono::milliseconds idle_timeout{30'000};
    /// Time a client has to take the response; then the connection is closed.
    std::chrono::milliseconds write_timeout{10'000};
    /// Open connections; a connection beyond this gets 503 and is closed.
    std::size_t max_connections = 10'000;
    /// On stop, time requests already received get to finish; then the Python calls still
    /// running are cancelled and answered 503, and the connections close (see `server::stop`).
    /// A handler's own timeout still applies meanwhile: a request gets the earlier of the two.
    std::chrono::milliseconds drain_timeout{10'000};
    /// The peers whose proxy headers are believed: comma-separated addresses, CIDR ranges, or
    /// `*`. From them `Forwarded` (RFC 7239) or else `X-Forwarded-For`, `-Proto` and `-Host` name
    /// the client (the rightmost hop not trusted), the scheme and the host (see
    /// docs/operations.md); from any other peer those headers are passed on and change nothing.
    std::string forwarded_allow_ips = "127.0.0.1,::1";
    /// Where the access log goes, one line per request answered or refused: a file (opened
    /// for appending; `server::reopen_access_log` reopens it), "-" for the standard output;
    /// empty: none. Lines are written by a thread of the log's own, never by an IO thread.
    std::string access_log;
    /// The access log's lines: `common`, `combined`, `json`, or a template of `{field}`
    /// placeholders (docs/operations.md lists them). Every format has the duration.
    std::string access_log_format = "common";
    /// Count requests by method, route and status, their durations and body sizes, and the
    /// requests refused, for `server::write_metrics`. Off: `write_metrics` writes only the gauges.
    bool metrics = false;
    /// HTTPS: the PEM certificate (the server's first, then its chain) and its PEM private key;
    /// `keyfile` may stay empty when the key is in `certfile`. Empty `certfile`: plain HTTP.
    /// TLS 1.2 and 1.3 only, with Mozilla's "intermediate" ciphers, ALPN `http/1.1`; read when the
    /// server is made and again by `server::reload_tls` (docs/configuration.md, TLS).
    std::string certfile;
    std::string keyfile;
    /// With TLS, the PEM CA certificates that client certificates are verified against; set, a
    /// client without a certificate they sign is refused in the handshake. Empty: none asked for.
    std::string ca_certs;
    /// With TLS, time a client has to complete the handshake once connected; then it is closed.
    std::chrono::milliseconds tls_handshake_timeout{10'000};
    /// Listen with `SO_REUSEPORT`, so worker processes can each listen on the same port and the
    /// kernel spreads new connections over them.
    bool reuse_port = false;
};

} // namespace httpy
