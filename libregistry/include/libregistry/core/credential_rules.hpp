#pragma once
// Credentials chosen by repository prefix, as image-syncer's auth file assigns them: a key is `host[:port]`
// or `host[:port]/namespace[/...]`, and the key that is the longest path-segment prefix of
// `registry/repository` wins.
#include "libregistry/core/credentials.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

struct credential_rule {
    std::string key; ///< normalised: registry (as normalize_registry gives it) plus an optional path
    credential cred;
    bool insecure = false; ///< plain HTTP allowed and TLS verification off for this registry
    std::string origin;    ///< `auth.yaml:3`, for messages
};

/// The rule for `registry/repository`, or nullptr. `quay.io/org` matches `quay.io/org/app` but not
/// `quay.io/organisation/app`; a key equal to the whole name matches.
const credential_rule* match_credential_rule(const std::vector<credential_rule>& rules,
                                             std::string_view registry, std::string_view repository);

/// True when any rule for `registry` (whatever its path) says insecure.
bool registry_is_insecure(const std::vector<credential_rule>& rules, std::string_view registry);

} // namespace libregistry
