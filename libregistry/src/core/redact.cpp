#include "libregistry/core/redact.hpp"

#include "core/detail/ascii.hpp"
#include "core/detail/base64.hpp"

#include <boost/url.hpp>

#include <algorithm>
#include <array>

namespace libregistry {

using detail::iequals;
namespace {

namespace urls = boost::urls;

constexpr std::string_view redacted = "REDACTED";

// Pagination, blob mount and token-request parameters: they name registry content, never grant access.
constexpr std::array<std::string_view, 7> harmless_params{"n",    "last",    "digest", "mount",
                                                          "from", "service", "scope"};

bool is_harmless(std::string_view key) {
    return std::find(harmless_params.begin(), harmless_params.end(), key) != harmless_params.end();
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

// Headers whose values name content, framing, limits or challenges, never credentials. Compared
// case-insensitively. `Link` and the two Location headers are handled apart (their URLs are redacted).
constexpr std::string_view harmless_headers[]{
    "accept",
    "accept-encoding",
    "accept-ranges",
    "age",
    "cache-control",
    "connection",
    "content-encoding",
    "content-length",
    "content-range",
    "content-type",
    "date",
    "docker-content-digest",
    "docker-distribution-api-version",
    "docker-ratelimit-source",
    "docker-upload-uuid",
    "etag",
    "expires",
    "host",
    "keep-alive",
    "last-modified",
    "oci-chunk-min-length",
    "proxy-authenticate",
    "range",
    "ratelimit",
    "ratelimit-limit",
    "ratelimit-policy",
    "ratelimit-remaining",
    "ratelimit-reset",
    "retry-after",
    "server",
    "strict-transport-security",
    "transfer-encoding",
    "user-agent",
    "vary",
    "www-authenticate",
};

bool is_harmless_header(std::string_view name) {
    return std::any_of(std::begin(harmless_headers), std::end(harmless_headers),
                       [&](std::string_view known) { return iequals(name, known); });
}

// `<url>; rel="next", <url2>; ...` with every URL through redact_url; the parameters are kept.
std::string redact_link(std::string_view value) {
    std::string out;
    while (!value.empty()) {
        const auto open = value.find('<');
        const auto close = open == std::string_view::npos ? open : value.find('>', open);
        if (close == std::string_view::npos) {
            out.append(value);
            break;
        }
        out.append(value.substr(0, open + 1));
        out.append(redact_url(value.substr(open + 1, close - open - 1)));
        out.push_back('>');
        value.remove_prefix(close + 1);
    }
    return out;
}

std::string json_escaped(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out;
}

} // namespace

void secret_set::add(std::string_view secret) {
    if (secret.size() < min_length) return;
    std::lock_guard lock(mutex_);
    insert(std::string(secret));
    insert(detail::percent_encoded(secret));
    insert(json_escaped(secret));
}

void secret_set::add_basic(std::string_view username, std::string_view password) {
    if (password.empty()) return;
    add(password);
    std::string pair;
    pair.append(username).append(":").append(password);
    auto encoded = detail::encode_base64(pair);
    std::lock_guard lock(mutex_);
    insert(std::move(pair));
    insert(encoded);
    while (encoded.ends_with('=')) {
        encoded.pop_back();
        insert(encoded);
    }
}

void secret_set::insert(std::string secret) {
    if (secret.size() < min_length) return;
    auto& list = by_prefix_[secret.substr(0, min_length)];
    if (std::find(list.begin(), list.end(), secret) != list.end()) return;
    const auto at = std::find_if(list.begin(), list.end(),
                                 [&](const std::string& kept) { return kept.size() < secret.size(); });
    list.insert(at, std::move(secret));
}

bool secret_set::empty() const {
    std::lock_guard lock(mutex_);
    return by_prefix_.empty();
}

std::string secret_set::scrub(std::string_view text) const {
    std::lock_guard lock(mutex_);
    if (by_prefix_.empty() || text.size() < min_length) return std::string(text);
    // The end of the longest kept secret that starts at `i`, or `i` when none does.
    auto match_end = [&](std::size_t i) {
        if (i + min_length > text.size()) return i;
        auto it = by_prefix_.find(std::string(text.substr(i, min_length)));
        if (it == by_prefix_.end()) return i;
        for (const auto& secret : it->second)
            if (text.substr(i).starts_with(secret)) return i + secret.size();
        return i;
    };
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        auto end = match_end(i);
        if (end == i) {
            out.push_back(text[i++]);
            continue;
        }
        // Extend over every secret that starts inside this one or right where it ends.
        for (std::size_t j = i + 1; j <= end && j < text.size(); ++j)
            end = std::max(end, match_end(j));
        out.append(redacted);
        i = end;
    }
    return out;
}

secret_set& known_secrets() {
    static secret_set secrets;
    return secrets;
}

std::string scrub_secrets(std::string_view text) {
    return known_secrets().scrub(text);
}

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
    // A redirect to blob storage carries its signature in the query string.
    if (iequals(name, "location") || iequals(name, "content-location")) return redact_url(value);
    if (iequals(name, "link")) return redact_link(value);
    if (is_harmless_header(name)) return std::string(value);
    return std::string(redacted);
}

} // namespace libregistry
