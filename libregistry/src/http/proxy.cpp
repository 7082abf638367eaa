#include "libregistry/http/client.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/string.hpp>

#include <cstdlib>
#include <optional>

namespace libregistry::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;

std::string getenv_any(const char* upper, const char* lower) {
    // Upper case first, as Go's net/http (and so docker and containers/image) reads them.
    for (const char* name : {upper, lower})
        if (const char* value = std::getenv(name); value != nullptr && *value != '\0') return value;
    return {};
}

struct host_and_port {
    std::string_view host;
    std::optional<std::uint16_t> port; ///< nullopt when absent or not a number
    bool has_port = false;
};

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port` and bare `v6` (more than one colon, so no port).
host_and_port split_host_port(std::string_view text) {
    host_and_port out;
    std::string_view rest;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos) return {text.substr(1), std::nullopt, false};
        out.host = text.substr(1, close - 1);
        rest = text.substr(close + 1);
        if (!rest.starts_with(':')) return out;
        rest.remove_prefix(1);
    } else {
        const auto colon = text.find(':');
        if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos)
            return {text, std::nullopt, false};
        out.host = text.substr(0, colon);
        rest = text.substr(colon + 1);
    }
    out.has_port = true;
    unsigned value = 0;
    for (char c : rest) {
        if (c < '0' || c > '9' || value > 65535) return out;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (!rest.empty() && value <= 65535) out.port = static_cast<std::uint16_t>(value);
    return out;
}

std::string normalise_host(std::string_view host) {
    if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
    while (host.ends_with('.'))
        host.remove_suffix(1);
    std::string out(host);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::optional<asio::ip::address> parse_address(std::string_view text) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(std::string(text), ec);
    if (ec) return std::nullopt;
    return address;
}

bool in_cidr(const asio::ip::address& address, std::string_view cidr) {
    const auto slash = cidr.find('/');
    const auto network = parse_address(cidr.substr(0, slash));
    if (!network || network->is_v4() != address.is_v4()) return false;
    unsigned bits = 0;
    for (char c : cidr.substr(slash + 1)) {
        if (c < '0' || c > '9') return false;
        bits = bits * 10 + static_cast<unsigned>(c - '0');
        if (bits > 128) return false;
    }
    auto compare = [bits](const auto& a, const auto& b) {
        if (bits > a.size() * 8) return false;
        for (std::size_t i = 0; i < a.size(); ++i) {
            const unsigned remaining = bits > i * 8 ? bits - static_cast<unsigned>(i * 8) : 0;
            if (remaining == 0) return true;
            const unsigned mask = remaining >= 8 ? 0xffu : (0xffu << (8 - remaining)) & 0xffu;
            if ((a[i] & mask) != (b[i] & mask)) return false;
        }
        return true;
    };
    if (address.is_v4()) return compare(address.to_v4().to_bytes(), network->to_v4().to_bytes());
    return compare(address.to_v6().to_bytes(), network->to_v6().to_bytes());
}

/// curl's NO_PROXY rules: `*` alone disables proxying; a name matches itself and its subdomains whether
/// or not it has a leading dot; an IP address (or CIDR range) matches that address; `:port` narrows an
/// entry to one port.
bool no_proxy_matches(std::string_view list, std::string_view host, std::uint16_t port) {
    const std::string name = normalise_host(host);
    const auto address = parse_address(name);
    while (!list.empty()) {
        const auto end = list.find_first_of(", \t");
        std::string_view entry = list.substr(0, end);
        list = end == std::string_view::npos ? std::string_view{} : list.substr(end + 1);
        if (entry.empty()) continue;
        if (entry == "*") return true;

        std::string_view entry_host = entry;
        if (entry.find('/') == std::string_view::npos) {
            const auto split = split_host_port(entry);
            if (split.has_port && split.port != port) continue;
            entry_host = split.host;
        }
        if (entry_host.starts_with("*.")) entry_host.remove_prefix(1);
        while (entry_host.starts_with('.'))
            entry_host.remove_prefix(1);
        const std::string pattern = normalise_host(entry_host);
        if (pattern.empty()) continue;

        if (pattern.find('/') != std::string::npos) {
            if (address && in_cidr(*address, pattern)) return true;
            continue;
        }
        if (const auto pattern_address = parse_address(pattern)) {
            if (address && *address == *pattern_address) return true;
            continue;
        }
        if (name == pattern) return true;
        if (name.size() > pattern.size() && name.ends_with(pattern) &&
            name[name.size() - pattern.size() - 1] == '.')
            return true;
    }
    return false;
}

} // namespace

proxy_settings proxy_settings::from_environment() {
    return proxy_settings{
        getenv_any("HTTPS_PROXY", "https_proxy"),
        getenv_any("HTTP_PROXY", "http_proxy"),
        getenv_any("NO_PROXY", "no_proxy"),
    };
}

std::string proxy_settings::proxy_for(std::string_view scheme, std::string_view host,
                                      std::uint16_t port) const {
    const std::string& proxy = beast::iequals(scheme, "https") ? https_proxy : http_proxy;
    if (proxy.empty() || no_proxy_matches(no_proxy, host, port)) return {};
    // `proxy:3128` without a scheme is common in the wild; curl and Go both read it as http://.
    if (proxy.find("://") == std::string::npos) return "http://" + proxy;
    return proxy;
}

bool is_loopback_host(std::string_view host_port) {
    const std::string host = normalise_host(split_host_port(host_port).host);
    if (host == "localhost") return true;
    const auto address = parse_address(host);
    if (!address) return false;
    if (address->is_v4()) return address->to_v4().to_bytes()[0] == 127;
    const auto v6 = address->to_v6();
    if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes()[0] == 127;
    return v6.is_loopback();
}

} // namespace libregistry::http
