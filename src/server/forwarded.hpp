#pragma once

#include <boost/asio/ip/address.hpp>

#include <string_view>
#include <vector>

namespace httpy {
struct request;
}

namespace httpy::detail {

/// The peers whose proxy headers are believed (`--forwarded-allow-ips`): addresses, CIDR
/// ranges, or `*` for every peer. An IPv4-mapped IPv6 peer (::ffff:a.b.c.d) is judged by its
/// IPv4 address.
class trusted_proxies {
public:
    /// Parses a comma-separated list ("127.0.0.1,::1,10.0.0.0/8", "*", or "" for none).
    /// Throws: config_error naming the entry that is neither an address nor a range.
    explicit trusted_proxies(std::string_view list);

    /// True when `address` (textual) is one of them; false for what is not an address.
    bool trusts(std::string_view address) const noexcept;
    bool trusts(const boost::asio::ip::address& address) const noexcept;

private:
    struct range {
        boost::asio::ip::address network;
        unsigned prefix = 0;
    };

    bool every_ = false;
    std::vector<range> ranges_;
};

/// Applies a trusted proxy's headers to `req`, a request its peer (`req.remote_address`, which
/// `proxies` trusts: the caller judges it once per connection) sent:
/// the client is the rightmost hop of `Forwarded` (RFC 7239; it takes precedence) or else of
/// `X-Forwarded-For` that `proxies` does not trust (the leftmost when every hop is trusted; a hop
/// that is not an address ends the walk at the hop before it). Its address (and port, when
/// `Forwarded` gives one; else 0) become `req.remote_address` and `remote_port`; the scheme (`proto`
/// or `X-Forwarded-Proto`: http or https) becomes `req.scheme`; the host (`host` or
/// `X-Forwarded-Host`) replaces the `Host` header. The proxy headers stay in `req.headers` as
/// sent; without `Forwarded` and `X-Forwarded-For`, `X-Forwarded-Proto` and `-Host` still apply.
/// Nothing changes when the peer sent none of them.
void apply_proxy_headers(const trusted_proxies& proxies, request& req);

} // namespace httpy::detail
