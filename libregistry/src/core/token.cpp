#include "libregistry/core/token.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <tuple>

namespace libregistry {
namespace {

using json = nlohmann::json;

constexpr std::chrono::seconds minimum_expiry{60};
// Bounds the time arithmetic below against absurd answers; a token refreshed daily costs nothing.
constexpr std::chrono::seconds maximum_expiry{24 * 60 * 60};

std::string cache_key(std::string_view registry, const std::vector<scope>& scopes) {
    std::string key(registry);
    key += '\n';
    key += scopes_key(scopes);
    return key;
}

/// A non-empty string member, or "" when absent, null, empty or of another type.
std::string string_member(const json& object, const char* name) {
    auto it = object.find(name);
    if (it == object.end() || !it->is_string()) return {};
    return it->get<std::string>();
}

} // namespace

std::string scope::str() const {
    std::string out = type;
    out += ':';
    out += name;
    out += ':';
    for (std::size_t i = 0; i < actions.size(); ++i) {
        if (i) out += ',';
        out += actions[i];
    }
    return out;
}

scope pull_scope(std::string repository) {
    return scope{"repository", std::move(repository), {"pull"}};
}

scope push_scope(std::string repository) {
    return scope{"repository", std::move(repository), {"pull", "push"}};
}

std::vector<scope> normalize_scopes(std::vector<scope> scopes) {
    std::sort(scopes.begin(), scopes.end(), [](const scope& a, const scope& b) {
        return std::tie(a.type, a.name) < std::tie(b.type, b.name);
    });
    std::vector<scope> out;
    for (auto& s : scopes) {
        if (!out.empty() && out.back().type == s.type && out.back().name == s.name) {
            auto& actions = out.back().actions;
            actions.insert(actions.end(), std::make_move_iterator(s.actions.begin()),
                           std::make_move_iterator(s.actions.end()));
        } else {
            out.push_back(std::move(s));
        }
    }
    for (auto& s : out) {
        std::erase(s.actions, std::string());
        std::sort(s.actions.begin(), s.actions.end());
        s.actions.erase(std::unique(s.actions.begin(), s.actions.end()), s.actions.end());
    }
    return out;
}

std::string scopes_key(const std::vector<scope>& scopes) {
    std::string key;
    for (const auto& s : normalize_scopes(scopes)) {
        if (!key.empty()) key += ' ';
        key += s.str();
    }
    return key;
}

result<token> parse_token_response(std::string_view body) {
    // Messages never quote the body: it is a credential.
    const auto doc = json::parse(body.begin(), body.end(), nullptr, false);
    if (doc.is_discarded()) return make_error(errc::bad_response, "token response is not valid JSON");
    if (!doc.is_object()) return make_error(errc::bad_response, "token response is not a JSON object");

    token t;
    // Docker token spec: `token` is the documented field and `access_token` its OAuth2 alias; when both
    // are present they are equal, so `token` wins.
    t.value = string_member(doc, "token");
    if (t.value.empty()) t.value = string_member(doc, "access_token");
    if (t.value.empty())
        return make_error(errc::bad_response,
                          "token response has no \"token\" or \"access_token\" string, or it is empty");

    t.refresh_token = string_member(doc, "refresh_token");

    // Docker token spec: expires_in defaults to 60 and a smaller value means 60. `issued_at` is ignored: the
    // expiry counts from when the response arrived, which is immune to clock skew with the token server.
    // A non-numeric expires_in falls back to the default rather than failing an otherwise usable token.
    t.expires_in = minimum_expiry;
    if (auto it = doc.find("expires_in"); it != doc.end() && it->is_number()) {
        const double seconds = it->get<double>();
        if (seconds >= static_cast<double>(maximum_expiry.count()))
            t.expires_in = maximum_expiry;
        else if (seconds > static_cast<double>(minimum_expiry.count()))
            t.expires_in = std::chrono::seconds(static_cast<std::int64_t>(seconds));
    }
    return t;
}

std::optional<std::string> token_cache::get(std::string_view registry, const std::vector<scope>& scopes,
                                            clock::time_point now) const {
    auto it = entries_.find(cache_key(registry, scopes));
    if (it == entries_.end() || now >= it->second.expires) return std::nullopt;
    return it->second.value;
}

void token_cache::put(std::string_view registry, const std::vector<scope>& scopes, const token& t,
                      clock::time_point now) {
    std::erase_if(entries_, [now](const auto& kv) { return now >= kv.second.expires; });

    const auto lifetime = std::clamp(t.expires_in, std::chrono::seconds(0), maximum_expiry);
    // Stop using a token shortly before the server does so that a request in flight does not carry an
    // expired one: 10% of its lifetime, at most 5 s.
    const auto margin = std::min<clock::duration>(clock::duration(lifetime) / 10, std::chrono::seconds(5));
    entries_.insert_or_assign(cache_key(registry, scopes), entry{t.value, now + lifetime - margin});
}

void token_cache::invalidate(std::string_view registry, const std::vector<scope>& scopes) {
    if (auto it = entries_.find(cache_key(registry, scopes)); it != entries_.end()) entries_.erase(it);
}

} // namespace libregistry
