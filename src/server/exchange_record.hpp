#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace httpy::detail {

/// What the server knows of one answered request once its response is written: what the access
/// log and the metrics are made of. Views into the session's buffers, valid only during the call
/// that is given the record.
struct exchange_record {
    /// The client as the server believes it: the connection's peer, or the address a trusted
    /// proxy named (`--forwarded-allow-ips`); its port is 0 when a proxy named only an address.
    std::string_view client_address;
    unsigned short client_port = 0;
    /// The method and target as sent, and the version of the request line (10 or 11).
    std::string_view method;
    std::string_view target;
    unsigned version = 11;
    /// The matched route pattern ("/users/:id"), "*" when the app does its own routing (no
    /// routes, every path to one handler), empty when no route matched (404, 405) or the request
    /// was refused before routing (400, 408, 413, 431, 501, 505).
    std::string_view route;
    /// The status sent, and the body bytes received and sent (the response head not included;
    /// 0 for a HEAD response).
    int status = 0;
    std::uint64_t request_body_bytes = 0;
    std::uint64_t response_body_bytes = 0;
    /// The request's `X-Request-Id`, `Referer` and `User-Agent` values; empty when not sent.
    std::string_view request_id;
    std::string_view referer;
    std::string_view user_agent;
    /// When the request's first byte arrived (wall clock, for the log's timestamp) and how long
    /// it took from then until the last byte of the response was handed to the kernel.
    std::chrono::system_clock::time_point received;
    std::chrono::nanoseconds duration{0};
};

} // namespace httpy::detail
