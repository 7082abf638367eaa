#pragma once
// The prune planner: which destination tags a sync deletes, or why it refuses to. Pure, like sync_plan.hpp:
// the runner lists the repositories, calls plan_prune after the copies, and carries the deletions out.
#include "libregistry/core/digest.hpp"
#include "libregistry/core/error.hpp"
#include "libregistry/sync/sync_plan.hpp"

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

/// `--prune-max`: the most tags one destination repository may lose in a run, as a count (`20`) or as a
/// percentage of the tags it holds (`10%`).
struct prune_guard {
    unsigned value = 10;
    bool percent = true;

    std::string str() const; ///< "10%", "20"
};

/// Parses `N` or `N%` (0 to 100 for a percentage).
result<prune_guard> parse_prune_guard(std::string_view text);

/// The most deletions `guard` allows in a repository holding `tags` tags: a count as given; a percentage of
/// the tags rounded down, but at least 1 (a percentage alone would never let a repository of fewer than
/// 1/p tags lose one).
std::size_t prune_limit(prune_guard guard, std::size_t tags);

/// Destination repositories that at least one pruning rule writes, each once.
std::vector<sync_destination> repositories_to_prune(const std::vector<sync_rule>& rules);

struct prune_input {
    std::vector<sync_rule> rules;           ///< every rule of the run (of this shard)
    std::vector<sync_item> items;           ///< the rules expanded against the source listings
    tag_lists source_tags;                  ///< source listings that answered
    std::set<std::string> unlisted_sources; ///< source listings that failed or were cut short by a stop
    tag_lists destination_tags;             ///< listings of repositories_to_prune, after the copies
    std::map<std::string, std::string> destination_failures; ///< destination listings that failed: why
    /// Destination repositories where an image of this run failed or was not copied.
    std::set<std::string> failed_destinations;
    /// Destination repositories that rules of other shards (`--shard`) also write.
    std::set<std::string> foreign_destinations;
    bool interrupted = false;
    prune_guard guard;
};

/// One destination repository a pruning rule writes.
struct prune_target {
    sync_destination repository;        ///< registry and repository (tags unused)
    std::string origin;                 ///< the first pruning rule that writes it
    std::vector<std::string> deletions; ///< tags no rule maps to any more, sorted
    std::vector<std::string> kept;      ///< every other tag it lists
    std::vector<digest> kept_digests;   ///< images the rules write there by digest only
    /// Set when nothing is deleted there, saying why and how to go on; `deletions` still says what would be.
    std::optional<std::string> refusal;
};

/// Per destination repository of a pruning rule, in rule order: the tags it lists that no rule of the run
/// maps to (referrer-schema tags stay: they belong to their subject). Refuses a repository when the run was
/// interrupted, when a source listing of a rule writing it failed or was empty or the rule selected no tag,
/// when an image written there failed, when its own listing failed, when another shard writes it, or when
/// the deletions exceed the guard.
std::vector<prune_target> plan_prune(const prune_input& input);

} // namespace libregistry
