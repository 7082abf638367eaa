#pragma once
// Referrers for people and machines: what carrying them came to (the copy result line, the sync log and
// report), and the tree `syncer referrers` prints.
#include <libregistry/core/manifest.hpp>
#include <libregistry/core/referrers.hpp>
#include <libregistry/sync/referrers_copy.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace syncer {

/// Whether `stats` has anything to say: a referrer found, excluded or not carried, or a note. Images whose
/// referrers were not looked at, or that have none, say nothing about them.
bool has_referrers(const libregistry::referrers_stats& stats);

/// `2 referrers copied, 1 already there, 3 excluded by type, 1 not carried`: the parts that are not zero
/// (the copied count always, once there is anything to say); empty when has_referrers is false.
std::string referrers_outcome(const libregistry::referrers_stats& stats);

/// {found, copied, present, excluded, not_carried, fallback_updates}.
nlohmann::ordered_json referrers_stats_json(const libregistry::referrers_stats& stats);

/// An image and what discover_referrers found for it (and for each child of an index).
struct referrers_tree {
    std::string image; ///< as the user named it
    libregistry::digest digest;
    std::string media_type;
    std::vector<libregistry::descriptor> children; ///< an index's entries; empty for a single manifest
    libregistry::referrer_discovery discovery;
};

/// The tree as text: the image line, its referrers indented under it (artifact type, digest, size, how each
/// was found, annotations), referrers of referrers under their subject, then each child of an index that has
/// referrers; `no referrers` when there are none. Registry text is escaped.
std::string referrers_tree_text(const referrers_tree& tree);

/// {image, digest, media_type, referrers: [{artifact_type, digest, media_type, size, via, tag?, annotations,
/// referrers: [...]}], children: [{digest, platform, referrers: [...]}], excluded, beyond_depth, notes}.
nlohmann::ordered_json referrers_tree_json(const referrers_tree& tree);

} // namespace syncer
