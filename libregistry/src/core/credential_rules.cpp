#include "libregistry/core/credential_rules.hpp"

#include "libregistry/core/reference.hpp"

#include "core/detail/ascii.hpp"

#include <algorithm>

namespace libregistry {
namespace {

using detail::iequals;

struct split_key {
    std::string_view host;
    std::string_view path; ///< without leading or trailing slashes; empty for a bare host
};

// Rules are normally built by the auth-file parser with normalised keys, but tolerate a scheme or trailing
// slash from other callers rather than silently never matching.
split_key split(std::string_view key) {
    if (const auto scheme = key.find("://"); scheme != std::string_view::npos) key.remove_prefix(scheme + 3);
    split_key out;
    const auto slash = key.find('/');
    out.host = key.substr(0, slash);
    if (slash != std::string_view::npos) {
        out.path = key.substr(slash + 1);
        while (!out.path.empty() && out.path.back() == '/')
            out.path.remove_suffix(1);
    }
    return out;
}

bool is_path_prefix(std::string_view prefix, std::string_view repository) noexcept {
    if (prefix.empty()) return true;
    if (!repository.starts_with(prefix)) return false;
    return repository.size() == prefix.size() || repository[prefix.size()] == '/';
}

bool same_registry(std::string_view rule_host, std::string_view registry) {
    return iequals(normalize_registry(rule_host), registry);
}

} // namespace

const credential_rule* match_credential_rule(const std::vector<credential_rule>& rules,
                                             std::string_view registry, std::string_view repository) {
    const auto host = normalize_registry(registry);
    const credential_rule* best = nullptr;
    std::size_t best_length = 0;
    for (const auto& rule : rules) {
        const auto key = split(rule.key);
        if (!same_registry(key.host, host) || !is_path_prefix(key.path, repository)) continue;
        // Strictly longer, so that of two equal keys the first written wins.
        if (best == nullptr || key.path.size() > best_length) {
            best = &rule;
            best_length = key.path.size();
        }
    }
    return best;
}

bool registry_is_insecure(const std::vector<credential_rule>& rules, std::string_view registry) {
    const auto host = normalize_registry(registry);
    return std::any_of(rules.begin(), rules.end(), [&](const credential_rule& rule) {
        return rule.insecure && same_registry(split(rule.key).host, host);
    });
}

} // namespace libregistry
