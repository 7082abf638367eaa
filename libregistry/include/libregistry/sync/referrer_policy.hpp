#pragma once
// Which referrers (signatures, SBOMs, attestations) a copy or a rule carries: on or off, and which artifact
// types. Pure: the copy engine (referrers_copy.hpp) applies it, the planner keeps one per rule.
#include "libregistry/core/error.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

/// Types are matched against a referrer's artifactType (its config media type when it has none) and, for a
/// cosign tag's manifest, its layers' media types too; each pattern is a literal or a `/regex/` (RE2,
/// unanchored, like tag regexes).
struct referrer_policy {
    bool enabled = true;
    std::vector<std::string> include_types; ///< empty: every type
    std::vector<std::string> exclude_types;
    /// Referrers of referrers are followed this deep (1: only the image's own); deeper ones are counted, not
    /// copied.
    int max_depth = 4;
    /// The most referrers carried per image, all depths together; more fail the image's referrers.
    std::size_t max_referrers = 1000;

    friend bool operator==(const referrer_policy&, const referrer_policy&) = default;
};

/// Checks the patterns of `policy` (an invalid `/regex/`, an empty pattern) and its bounds (max_depth at
/// least 1), naming `origin` in the error.
result<void> check_referrer_policy(const referrer_policy& policy, std::string_view origin);

/// Whether `policy` takes a referrer of these types: enabled, some type matches an include pattern (or there
/// are none), and no type matches an exclude pattern.
bool referrer_selected(const referrer_policy& policy, const std::vector<std::string>& types);

} // namespace libregistry
