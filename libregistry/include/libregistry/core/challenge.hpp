#pragma once
// WWW-Authenticate challenges (RFC 7235 section 4.1; Docker token auth spec "How to authenticate").
#include "libregistry/core/error.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

struct challenge {
    std::string scheme;                        ///< lower-cased: "basic", "bearer", ...
    std::map<std::string, std::string> params; ///< keys lower-cased, values unquoted

    std::string param(std::string_view key) const; ///< "" when absent
};

/// Parses every challenge in one header value, e.g.
/// `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull",
/// Basic realm="x"`. Commas separate both parameters and challenges; quoted strings may contain commas and
/// `\"`.
result<std::vector<challenge>> parse_www_authenticate(std::string_view header);

/// The Bearer `error` parameter says the token lacked a scope (`insufficient_scope`).
bool is_insufficient_scope(const challenge& c);

} // namespace libregistry
