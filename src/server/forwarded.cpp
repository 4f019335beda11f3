#include "server/forwarded.hpp"

#include "httpy/config_error.hpp"
#include "httpy/request.hpp"
#include "server/request_error.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <string>

namespace httpy::detail {

namespace net = boost::asio;
namespace beast = boost::beast;

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

std::optional<net::ip::address> parse_address(std::string_view text) {
    boost::system::error_code ec;
    auto a = net::ip::make_address(std::string(text), ec);
    if (ec)
        return std::nullopt;
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
    return a;
}

// An address's bytes in network order: 4 of them for IPv4, 16 for IPv6.
struct address_bytes {
    std::array<unsigned char, 16> bytes{};
    bool v4 = false;
};

address_bytes bytes_of(const net::ip::address& a) {
    address_bytes out{.v4 = a.is_v4()};
    if (out.v4) {
        const auto b = a.to_v4().to_bytes();
        std::copy(b.begin(), b.end(), out.bytes.begin());
    } else {
        out.bytes = a.to_v6().to_bytes();
    }
    return out;
}

// Whether the first `prefix` bits of `a` and `b` agree (never across families).
bool same_prefix(const net::ip::address& a, const net::ip::address& b, unsigned prefix) {
    const address_bytes x = bytes_of(a), y = bytes_of(b);
    if (x.v4 != y.v4)
        return false;
    for (unsigned bit = 0; bit < prefix; ++bit) {
        const unsigned mask = 0x80u >> (bit % 8);
        if ((x.bytes[bit / 8] & mask) != (y.bytes[bit / 8] & mask))
            return false;
    }
    return true;
}

// Every element of a comma-separated header, all its field lines in order, outside quotes.
std::vector<std::string_view> elements(const fields& headers, std::string_view name) {
    std::vector<std::string_view> out;
    const auto* values = headers.find(name);
    if (!values)
        return out;
    for (const std::string& line : *values) {
        std::string_view rest = line;
        bool quoted = false;
        std::size_t start = 0;
        for (std::size_t i = 0; i <= rest.size(); ++i) {
            if (i < rest.size() && rest[i] == '"')
                quoted = !quoted;
            if (i == rest.size() || (rest[i] == ',' && !quoted)) {
                if (auto e = trim(rest.substr(start, i - start)); !e.empty())
                    out.push_back(e);
                start = i + 1;
            }
        }
    }
    return out;
}

// One hop a proxy reported: who connected to it, and how.
struct hop {
    std::string_view node; // the address as written, brackets and port removed
    unsigned short port = 0;
    std::string_view proto;
    std::string_view host;
};

// RFC 7239 6: a node is an IPv4 address, a bracketed IPv6 one, "unknown" or an obfuscated
// name, each with an optional port; quotes around it are allowed (and needed for IPv6).
hop parse_node(std::string_view node) {
    if (node.size() >= 2 && node.front() == '"' && node.back() == '"')
        node = node.substr(1, node.size() - 2);
    hop h;
    std::string_view port;
    if (!node.empty() && node.front() == '[') {
        const auto close = node.find(']');
        if (close == std::string_view::npos)
            return h;
        h.node = node.substr(1, close - 1);
        if (close + 1 < node.size() && node[close + 1] == ':')
            port = node.substr(close + 2);
    } else if (const auto colon = node.find(':'); colon != std::string_view::npos &&
                                                  node.find(':', colon + 1) == node.npos) {
        h.node = node.substr(0, colon);
        port = node.substr(colon + 1);
    } else {
        h.node = node;
    }
    unsigned value = 0;
    if (!port.empty() && std::from_chars(port.data(), port.data() + port.size(), value).ec ==
                             std::errc() && value <= 65535)
        h.port = static_cast<unsigned short>(value);
    return h;
}

std::string_view unquote(std::string_view v) {
    return v.size() >= 2 && v.front() == '"' && v.back() == '"' ? v.substr(1, v.size() - 2) : v;
}

// The hops of RFC 7239 `Forwarded`: one per element that names `for`.
std::vector<hop> forwarded_hops(const fields& headers) {
    std::vector<hop> hops;
    for (std::string_view element : elements(headers, "Forwarded")) {
        hop h;
        bool has_for = false;
        while (!element.empty()) {
            const auto semi = element.find(';');
            const auto pair = trim(element.substr(0, semi));
            element = semi == std::string_view::npos ? std::string_view() : element.substr(semi + 1);
            const auto eq = pair.find('=');
            if (eq == std::string_view::npos)
                continue;
            const auto key = trim(pair.substr(0, eq));
            const auto value = trim(pair.substr(eq + 1));
            if (beast::iequals(key, "for")) {
                const hop node = parse_node(value);
                h.node = node.node;
                h.port = node.port;
                has_for = true;
            } else if (beast::iequals(key, "proto")) {
                h.proto = unquote(value);
            } else if (beast::iequals(key, "host")) {
                h.host = unquote(value);
            }
        }
        if (has_for)
            hops.push_back(h);
    }
    return hops;
}

// The hops of X-Forwarded-For, with the X-Forwarded-Proto and -Host entry of each: the one at
// the same position when the lists are as long, else the rightmost (set by the nearest proxy).
std::vector<hop> x_forwarded_hops(const fields& headers) {
    std::vector<hop> hops;
    for (std::string_view node : elements(headers, "X-Forwarded-For"))
        hops.push_back({.node = parse_node(node).node});
    const auto protos = elements(headers, "X-Forwarded-Proto");
    const auto hosts = elements(headers, "X-Forwarded-Host");
    for (std::size_t i = 0; i < hops.size(); ++i) {
        if (!protos.empty())
            hops[i].proto = protos.size() == hops.size() ? protos[i] : protos.back();
        if (!hosts.empty())
            hops[i].host = hosts.size() == hops.size() ? hosts[i] : hosts.back();
    }
    return hops;
}

// A hop whose node is an address, with that address.
struct client_hop {
    const hop* at = nullptr;
    net::ip::address address;
};

// The client among `hops`: the rightmost that is not trusted, else the leftmost; a hop that is
// not an address stops the walk at the (trusted) hop to its right.
std::optional<client_hop> client_of(const std::vector<hop>& hops, const trusted_proxies& proxies) {
    std::optional<client_hop> nearer; // the hop to the right of this one, trusted
    for (std::size_t i = hops.size(); i-- > 0;) {
        const auto address = parse_address(hops[i].node);
        if (!address)
            return nearer;
        const client_hop here{&hops[i], *address};
        if (!proxies.trusts(*address) || i == 0)
            return here;
        nearer = here;
    }
    return std::nullopt;
}

} // namespace

trusted_proxies::trusted_proxies(std::string_view list) {
    for (std::size_t start = 0; start <= list.size();) {
        const auto comma = std::min(list.find(',', start), list.size());
        const auto entry = trim(list.substr(start, comma - start));
        start = comma + 1;
        if (entry.empty())
            continue;
        if (entry == "*") {
            every_ = true;
            continue;
        }
        const auto slash = entry.find('/');
        const auto network = parse_address(entry.substr(0, slash));
        unsigned prefix = network && network->is_v4() ? 32 : 128;
        const unsigned most = prefix;
        bool good = network.has_value();
        if (good && slash != std::string_view::npos) {
            const auto digits = entry.substr(slash + 1);
            good = !digits.empty() &&
                   std::from_chars(digits.data(), digits.data() + digits.size(), prefix).ptr ==
                       digits.data() + digits.size() &&
                   prefix <= most;
        }
        if (!good)
            throw config_error("--forwarded-allow-ips: \"" + std::string(entry) +
                               "\" is not an address, a range such as 10.0.0.0/8, or *");
        ranges_.push_back({*network, prefix});
    }
}

bool trusted_proxies::trusts(std::string_view address) const noexcept {
    if (every_)
        return true;
    const auto parsed = parse_address(address);
    return parsed && trusts(*parsed);
}

bool trusted_proxies::trusts(const net::ip::address& address) const noexcept {
    if (every_)
        return true;
    for (const range& r : ranges_)
        if (same_prefix(r.network, address, r.prefix))
            return true;
    return false;
}

namespace {

// The scheme and host a trusted proxy names (in `client`'s hop) replace the request's own.
void apply_scheme_and_host(const hop& client, request& req) {
    if (beast::iequals(client.proto, "https"))
        req.scheme = "https";
    else if (beast::iequals(client.proto, "http"))
        req.scheme = "http";
    if (!client.host.empty() && valid_host(client.host))
        req.headers.set("Host", {std::string(client.host)});
}

} // namespace

void apply_proxy_headers(const trusted_proxies& proxies, request& req) {
    const fields& h = req.headers;
    if (!h.contains("Forwarded") && !h.contains("X-Forwarded-For")) {
        // A proxy that names only the scheme or host (a TLS terminator, say): the peer stays.
        const auto protos = elements(h, "X-Forwarded-Proto");
        const auto hosts = elements(h, "X-Forwarded-Host");
        if (!protos.empty() || !hosts.empty())
            apply_scheme_and_host({.proto = protos.empty() ? "" : protos.back(),
                                   .host = hosts.empty() ? "" : hosts.back()},
                                  req);
        return;
    }
    const auto hops = h.contains("Forwarded") ? forwarded_hops(h) : x_forwarded_hops(h);
    const auto client = client_of(hops, proxies);
    if (!client)
        return;
    const hop chosen = *client->at; // its views point into the headers, which the Host may replace
    std::string host(chosen.host);
    req.remote_address = client->address.to_string();
    req.remote_port = chosen.port;
    apply_scheme_and_host({.proto = chosen.proto, .host = host}, req);
}

} // namespace httpy::detail
