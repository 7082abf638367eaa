#pragma once
// A rule's tag policy (`include`, `exclude`, `semver`, `latest` in the images file; --include-tags,
// --exclude-tags, --latest): which of the tags a source lists a rule copies. Pure: the runner lists the tags,
// and fetches creation times only for the tags select_tags asks about.
//
// Selection, in this order:
//  1. `exclude` drops every tag that matches one of its entries (a literal equal to the tag, or a /regex/
//     matching anywhere in it, RE2, unanchored).
//  2. A literal in `include` keeps that tag as it is (when the source lists it): `semver` and `latest` do not
//     apply to it. This is how `latest` is kept next to the newest N versions.
//  3. The other tags are the pool: those a /regex/ of `include` matches, or every tag when `include` has no
//     regex (an `include` of literals only keeps nothing else). `semver` keeps the pool's semver tags in
//     its range (tag_version.hpp).
//  4. `latest: N` keeps the newest N of the pool. When every pool tag is a version tag, version precedence
//     ranks them and nothing is fetched. Otherwise the pool is ranked by the image's creation time (its
//     config's `created`), which costs a manifest GET and a config GET (and one more manifest GET for an
//     index) per pool tag; an image without one counts as the oldest. When the pool has no more than N tags
//     nothing is ranked or fetched. Ties fall to version precedence, then to the tag text.
#include "libregistry/core/error.hpp"

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

struct tag_policy {
    std::vector<std::string> include; ///< literals, and /regex/ (written with the slashes)
    std::vector<std::string> exclude;
    std::string semver; ///< a range (tag_version.hpp); empty: none
    std::optional<std::size_t> latest;

    bool empty() const { return include.empty() && exclude.empty() && semver.empty() && !latest; }
    friend bool operator==(const tag_policy&, const tag_policy&) = default;
};

/// Whether a policy entry is a /regex/ (starts and ends with '/', at least one character between).
bool is_tag_regex(std::string_view entry);

/// Checks every entry (a literal must be a valid tag, a regex must compile) and the range; the reason names
/// the entry and says what is wrong. `latest: 0` is refused: it would keep nothing of the pool.
result<void> check_tag_policy(const tag_policy& policy);

/// One flag value (`latest,/^v1\./`) split at the commas that are outside a /regex/: a regex runs from its
/// opening '/' to the next '/' that ends the value or is followed by a comma. Entries are trimmed; empty ones
/// dropped.
std::vector<std::string> split_tag_patterns(std::string_view text);

/// Creation times by tag, for the tags select_tags asked about; nullopt: the image names none.
using created_times =
    std::map<std::string, std::optional<std::chrono::sys_time<std::chrono::microseconds>>, std::less<>>;

struct tag_selection {
    /// The selected tags, the pinned literals first (in `include` order), then the pool newest first.
    std::vector<std::string> tags;
    /// Non-empty when `latest` must rank tags by creation time and `created` lacks some: fetch these and call
    /// again. `tags` is empty then.
    std::vector<std::string> need_created;
};

/// The tags of `listed` that `policy` selects. Fails only for a policy check_tag_policy refuses.
result<tag_selection> select_tags(const std::vector<std::string>& listed, const tag_policy& policy,
                                  const created_times& created = {});

} // namespace libregistry
