#pragma once
// Bearer tokens: scopes, the token endpoint's answer, and a cache (Docker token auth spec).
#include "libregistry/core/error.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

/// `repository:NAME:ACTIONS` scope strings. Actions are kept sorted and unique.
struct scope {
    std::string type = "repository";
    std::string name;
    std::vector<std::string> actions; ///< "pull", "push", ...

    std::string str() const; ///< "repository:a/b:pull,push"
    friend bool operator==(const scope&, const scope&) = default;
};

scope pull_scope(std::string repository);
scope push_scope(std::string repository); ///< pull,push: a push token must also read what it writes

/// A sorted, merged, deduplicated list of scopes; its `key()` identifies a cache entry.
std::vector<scope> normalize_scopes(std::vector<scope> scopes);
std::string scopes_key(const std::vector<scope>& scopes);

struct token {
    std::string value;
    std::string refresh_token;           ///< returned by the OAuth2 POST form when asked for offline access
    std::chrono::seconds expires_in{60}; ///< 60 s when the server does not say (token auth spec)
};

/// Parses a token endpoint response: `token` or `access_token`, `expires_in`, `refresh_token`.
result<token> parse_token_response(std::string_view body);

/// Tokens per (registry, scope set), valid until a little before they expire. Pure: the caller passes `now`.
class token_cache {
public:
    using clock = std::chrono::steady_clock;

    std::optional<std::string> get(std::string_view registry, const std::vector<scope>& scopes,
                                   clock::time_point now) const;
    void put(std::string_view registry, const std::vector<scope>& scopes, const token& t,
             clock::time_point now);
    void invalidate(std::string_view registry, const std::vector<scope>& scopes);

private:
    struct entry {
        std::string value;
        clock::time_point expires;
    };
    std::map<std::string, entry, std::less<>> entries_;
};

} // namespace libregistry
