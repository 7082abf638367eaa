#pragma once
// Tags read as versions, their order, and semver ranges: what `latest: N` and `semver:` of a tag policy
// (sync/tag_policy.hpp) decide with, from the tag text alone. Pure.
//
// A version tag is `v? NUMBER ('.' NUMBER)* ('-' SUFFIX)?`: semver (`1.4.2`, `v2.0.0-rc.1`, and `1.25` or `7`
// read as `1.25.0` and `7.0.0`) and dotted numeric versions such as LabNow's `2026.0722.0823-6e32668`. Tags
// cannot hold `+`, so semver build metadata never occurs.
#include "libregistry/core/error.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

struct tag_version {
    /// The numeric fields, leading zeros removed (so `0722` is 722); compared as numbers of any length.
    std::vector<std::string> numbers;
    /// The suffix after the first `-`, split at `.`; empty when there is none. Ordered as a semver 2.0
    /// pre-release (item 11 of semver.org): a version with one is older than the same numbers without.
    std::vector<std::string> prerelease;
    /// Also a semver version: at most three fields, no leading zeros, and a suffix of non-empty
    /// `[0-9A-Za-z-]` identifiers, numeric ones without leading zeros. Only these match a semver range.
    bool semver = false;
};

/// The tag as a version; nullopt for tags such as `latest`, `main`, `sha-6e32668` or `1.2.3a`.
std::optional<tag_version> parse_tag_version(std::string_view tag);

/// Precedence: numeric fields one by one as numbers (a missing field is 0, so `1.25` == `1.25.0`), then
/// semver's pre-release rules. Negative, zero or positive as `a` is older than, as new as, or newer than `b`.
int compare_versions(const tag_version& a, const tag_version& b);

/// A semver range, npm's grammar without hyphen ranges:
///   range      = set *( "||" set )            any set matches
///   set        = comparator *( " " comparator ) every comparator matches
///   comparator = [ ">=" / "<=" / ">" / "<" / "=" / "^" / "~" ] partial / "*"
///   partial    = [ "v" ] MAJOR [ "." MINOR [ "." PATCH ] ] [ "-" PRERELEASE ]   (MINOR, PATCH may be x, X,
///   *)
/// `1.4` and `1.4.x` mean >=1.4.0 <1.5.0; `^1.4.2` >=1.4.2 <2.0.0 (`^0.4.2` <0.5.0); `~1.4.2` >=1.4.2
/// <1.5.0; `>1.4` >=1.5.0; `<=1.4` <1.5.0. A pre-release version matches only a set with a comparator
/// that has a pre-release on the same MAJOR.MINOR.PATCH (so `>=1.4` leaves out `2.0.0-rc.1`).
struct semver_range {
    enum class op { lt, le, gt, ge, eq };
    struct bound {
        op relation = op::eq;
        tag_version version; ///< three numbers
    };
    std::vector<std::vector<bound>> sets;
};

/// Fails for text the grammar above does not allow, saying what was expected.
result<semver_range> parse_semver_range(std::string_view text);

/// Whether `version` is semver and in `range`.
bool semver_matches(const semver_range& range, const tag_version& version);

/// When an image was created, from its configuration's `created` (RFC 3339, as image-spec config.md
/// says); nullopt when it has none or it is not a valid time.
std::optional<std::chrono::sys_time<std::chrono::microseconds>>
created_of_config(std::string_view config_json);

/// RFC 3339 `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` (a lowercase `t`/`z` or a space for the `T`
/// accepted, as section 5.6 allows); the fraction is cut to microseconds.
std::optional<std::chrono::sys_time<std::chrono::microseconds>> parse_rfc3339(std::string_view text);

} // namespace libregistry
