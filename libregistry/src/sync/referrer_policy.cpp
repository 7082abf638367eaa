#include "libregistry/sync/referrer_policy.hpp"

#include "libregistry/core/printable.hpp"
#include "libregistry/sync/tag_policy.hpp"

#include "sync/detail/patterns.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace libregistry {

result<void> check_referrer_policy(const referrer_policy& policy, std::string_view origin) {
    const std::pair<const std::vector<std::string>*, std::string_view> lists[] = {
        {&policy.include_types, "include"}, {&policy.exclude_types, "exclude"}};
    for (const auto& [list, name] : lists)
        for (const auto& e : *list) {
            if (e.empty())
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: an empty artifact type in the referrers' {} list: give a "
                                              "media type such as application/spdx+json, or a /regex/",
                                              origin, name));
            if (!is_tag_regex(e)) continue;
            if (auto bad = detail::regex_error(e))
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: \"{}\" in the referrers' {} list: invalid regex: {}",
                                              origin, printable(e), name, *bad));
        }
    if (policy.max_depth < 1)
        return make_error(errc::invalid_argument,
                          fmt::format("{}: referrers max depth {} follows nothing: give at least 1 (the "
                                      "image's own referrers), or turn referrers off",
                                      origin, policy.max_depth));
    if (policy.max_referrers == 0)
        return make_error(errc::invalid_argument,
                          fmt::format("{}: referrers max count 0 carries nothing: give at least 1, or turn "
                                      "referrers off",
                                      origin));
    return {};
}

bool referrer_selected(const referrer_policy& policy, const std::vector<std::string>& types) {
    if (!policy.enabled) return false;
    if (!policy.include_types.empty()) {
        const detail::pattern_matcher include(policy.include_types);
        if (std::none_of(types.begin(), types.end(), [&](const std::string& t) { return include.any(t); }))
            return false;
    }
    if (policy.exclude_types.empty()) return true;
    const detail::pattern_matcher exclude(policy.exclude_types);
    return std::none_of(types.begin(), types.end(), [&](const std::string& t) { return exclude.any(t); });
}

} // namespace libregistry
