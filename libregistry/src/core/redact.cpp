#include "libregistry/core/redact.hpp"

#include <boost/url.hpp>

#include <algorithm>
#include <array>

namespace libregistry {
namespace {

namespace urls = boost::urls;

constexpr std::string_view redacted = "REDACTED";

// Pagination, blob mount and token-request parameters: they name registry content, never grant access.
constexpr std::array<std::string_view, 7> harmless_params{"n",    "last",    "digest", "mount",
                                                          "from", "service", "scope"};

bool is_harmless(std::string_view key) {
    return std::find(harmless_params.begin(), harmless_params.end(), key) != harmless_params.end();
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
        return lower(x) == lower(y);
    });
}

/// Percent-decodes a query key the URL parser already validated; a malformed escape is kept as is.
std::string decode(std::string_view text) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

// For text Boost.URL rejects: keep only what cannot hold a secret, i.e. drop query and fragment and the
// userinfo before the host.
std::string fallback(std::string_view url) {
    url = url.substr(0, std::min(url.find('?'), url.find('#')));
    std::size_t authority = 0;
    if (auto scheme_end = url.find("://"); scheme_end != std::string_view::npos)
        authority = scheme_end + 3;
    else if (url.starts_with("//"))
        authority = 2;
    const auto authority_end = std::min(url.find('/', authority), url.size());
    const auto at = url.substr(authority, authority_end - authority).rfind('@');
    std::string out(url.substr(0, authority));
    if (at != std::string_view::npos)
        out.append(url.substr(authority + at + 1));
    else
        out.append(url.substr(authority));
    return out;
}

} // namespace

std::string redact_url(std::string_view url) {
    auto parsed = urls::parse_uri_reference(url);
    if (!parsed) return fallback(url);
    urls::url u(*parsed);
    u.remove_userinfo();
    u.remove_fragment();
    if (u.has_query()) {
        // The query is split by hand: Boost 1.81's params iterator reads out of bounds on an empty query
        // followed by a fragment (`/x?#f`), found by fuzzing this function.
        const std::string_view query = u.encoded_query();
        std::string out;
        std::size_t start = 0;
        while (start <= query.size()) {
            const auto end = std::min(query.find('&', start), query.size());
            const auto param = query.substr(start, end - start);
            if (start > 0) out += '&';
            const auto eq = param.find('=');
            const auto key = param.substr(0, eq);
            if (param.empty() || is_harmless(decode(key))) {
                out += param;
            } else if (eq != std::string_view::npos) {
                out += key;
                out += '=';
                out += redacted;
            } else {
                // A lone query word can itself be an opaque access token.
                out += redacted;
            }
            start = end + 1;
        }
        u.set_encoded_query(out);
    }
    return std::string(u.buffer());
}

std::string redact_header(std::string_view name, std::string_view value) {
    if (iequals(name, "authorization") || iequals(name, "proxy-authorization") || iequals(name, "cookie") ||
        iequals(name, "set-cookie"))
        return std::string(redacted);
    // A redirect to blob storage carries its signature in the query string.
    if (iequals(name, "location") || iequals(name, "content-location")) return redact_url(value);
    return std::string(value);
}

} // namespace libregistry
