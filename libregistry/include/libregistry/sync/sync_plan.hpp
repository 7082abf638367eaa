#pragma once
// The sync planner: pure functions from mapping rules and observed digests to a list of actions. It does no
// I/O; the runner (sync_runner.hpp) gathers the observations and carries the actions out.
#include "libregistry/core/digest.hpp"
#include "libregistry/core/error.hpp"
#include "libregistry/core/platform.hpp"
#include "libregistry/core/reference.hpp"
#include "libregistry/sync/referrer_policy.hpp"
#include "libregistry/sync/tag_policy.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace libregistry {

/// Which tags of a source repository a rule takes.
enum class tag_selector {
    all,    ///< `repo`: every tag
    listed, ///< `repo:t1,t2`
    regex,  ///< `repo:/regex/`: tags the RE2 expression matches anywhere (unanchored, like Go's MatchString)
    digest, ///< `repo@sha256:...`
};

struct sync_source {
    std::string registry;   ///< normalised (`docker.io` for Docker Hub)
    std::string repository; ///< `library/` added for one-component Hub names
    tag_selector selector = tag_selector::all;
    std::vector<std::string> tags; ///< listed
    std::string regex;             ///< regex, without the slashes
    std::optional<libregistry::digest> digest;

    std::string name() const { return registry + "/" + repository; }
};

struct sync_destination {
    std::string registry;
    std::string repository;
    /// Positional mapping for a `listed` source (same count), or one tag for a single source tag; empty keeps
    /// the source's tag (or digest).
    std::vector<std::string> tags;

    std::string name() const { return registry + "/" + repository; }
};

struct sync_rule {
    sync_source source;
    std::vector<sync_destination> destinations;
    std::string origin; ///< where the rule was written (`images.yaml:12`), for messages
    /// Delete destination tags, in the repositories this rule writes, that its selected source set no longer
    /// has (`prune: true`, `--prune`); off by default.
    bool prune = false;
    /// Which of the listed tags to take (tag_policy.hpp); only for sources that list tags (`all`, `regex`).
    tag_policy policy{};
    /// Platforms to keep (`platforms:`), in place of the run's --os/--arch for this rule; empty: the run's.
    std::vector<platform> platforms{};
    /// Which referrers the rule's images bring (`referrers:`); nullopt: the run's (sync_options::referrers).
    std::optional<referrer_policy> referrers{};
};

/// One (source image, destination image) pair; each side has a tag or a digest.
struct sync_item {
    reference source;
    reference destination;
    std::string origin;

    friend bool operator==(const sync_item&, const sync_item&) = default;
};

/// Tag lists fetched for the run, by `registry/repository`; a missing entry means it was not fetched.
using tag_lists = std::map<std::string, std::vector<std::string>, std::less<>>;

/// Tags a registry lists are input: those that are not valid tag names (the distribution grammar, at most 128
/// characters) are removed from `tags` and returned, so they never reach a URL, a log line or a terminal.
std::vector<std::string> remove_invalid_tags(std::vector<std::string>& tags);

/// The one warning for the invalid tags `repository` listed: how many, and the first three, made printable.
std::string invalid_tags_warning(std::string_view repository, const std::vector<std::string>& invalid);

/// The run's tag policy (--include-tags, --exclude-tags, --latest) applied to every rule whose source lists
/// its tags (`all`, `regex`): its excludes are added to the rule's, and its include and latest stand in where
/// the rule has none of its own. Rules naming their tags or a digest are left alone.
void apply_run_policy(std::vector<sync_rule>& rules, const tag_policy& run);

/// The source repositories whose tag lists `rules` need (`all` and `regex` selectors), each once.
std::vector<sync_source> repositories_to_list(const std::vector<sync_rule>& rules);

/// Creation times fetched for `latest: N` (tag_policy.hpp), by `registry/repository`.
using repository_created_times = std::map<std::string, created_times, std::less<>>;

/// The tags of an `all` or `regex` rule: those listed for its source that its regex and its policy select.
/// nullopt when the source was not listed; `need_created` names the tags whose creation times `created`
/// lacks and the policy needs. Fails for an invalid regex or policy, naming the rule's origin.
result<std::optional<tag_selection>> rule_tags(const sync_rule& rule, const tag_lists& tags,
                                               const repository_created_times& created = {});

/// Expands rules into items: one per (source tag, destination), duplicates dropped (first rule wins), in rule
/// order. Fails for an invalid regex or policy, a policy whose creation times `created` lacks, or a tag-list
/// length mismatch, naming the rule's origin.
result<std::vector<sync_item>> expand_rules(const std::vector<sync_rule>& rules, const tag_lists& tags,
                                            const repository_created_times& created = {});

/// The item standing for a whole rule's destination `d` when no tag of the rule is known (its listing failed,
/// or a stop came first): the source and destination repositories, without tag or digest, and the rule's
/// origin; reports name it so.
sync_item rule_item(const sync_rule& rule, const sync_destination& d);

/// `--shard K/N`: K in [0, N).
struct shard {
    unsigned index = 0;
    unsigned count = 1;
};
result<shard> parse_shard(std::string_view text);
/// Stable across machines and builds (FNV-1a of `registry/repository`), so N processes split one config.
bool in_shard(const sync_source& source, shard s);

/// What the runner saw for one item.
struct observation {
    std::optional<digest> source;      ///< HEAD of the source; nullopt if missing
    std::optional<digest> destination; ///< HEAD of the destination; nullopt if missing
    std::optional<error> failure;      ///< a HEAD failed
    std::string source_media_type;     ///< the source HEAD's Content-Type
};

enum class action_kind { copy, skip, fail };

struct sync_action {
    sync_item item;
    action_kind kind = action_kind::copy;
    std::string reason; ///< for the plan and the report
    std::optional<digest> source_digest;
};

struct plan_options {
    bool force = false;
    /// A platform filter copies a single image unchanged (or not at all), so equal digests are in sync as
    /// usual; it may rewrite an index, so for a source that is not known to be a single image the copy
    /// engine decides after reading the source.
    bool platform_filter = false;
};

/// One action per item, in item order: equal digests skip, a missing source or a failed HEAD fails, the rest
/// copy. `observations[i]` belongs to `items[i]`.
std::vector<sync_action> plan_sync(const std::vector<sync_item>& items,
                                   const std::vector<observation>& observations, plan_options options);

} // namespace libregistry
