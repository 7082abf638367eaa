#pragma once
// --referrers / --no-referrers, --referrer-types, --exclude-referrer-types and --referrers-depth: which
// referrers (signatures, SBOMs, attestations) `copy`, `sync`, `jobs`, `sync-image` and `image-syncer` carry
// with their images, and which ones `syncer referrers` lists.
#include "config/sync_config.hpp"

#include <libregistry/sync/referrer_policy.hpp>

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace syncer {

struct referrer_flags {
    bool enabled = true;                    ///< --referrers (default) / --no-referrers
    std::vector<std::string> include_types; ///< --referrer-types, as given (comma lists)
    std::vector<std::string> exclude_types; ///< --exclude-referrer-types
    std::string depth;                      ///< --referrers-depth; empty: the default
    bool switch_offered = true;             ///< the command has --referrers / --no-referrers
};

/// Adds the four flags; `with_switch` false leaves out --referrers / --no-referrers (for `syncer referrers`,
/// which lists them whatever).
void add_referrer_flags(CLI::App& cmd, referrer_flags& flags, bool with_switch = true);

/// The flags checked and turned into a policy; throws usage_error naming the flag (a bad /regex/, an empty
/// entry, a depth that is not a whole number from 1 to max_referrers_depth, types given with
/// --no-referrers).
libregistry::referrer_policy parse_referrer_flags(const referrer_flags& flags);

} // namespace syncer
