#pragma once
// `--check`: the rules a run would follow, one line each, from files that were only parsed and validated.
#include <libregistry/sync/sync_runner.hpp>

#include <string>
#include <vector>

namespace syncer {

/// One line per rule: `ORIGIN  SOURCE -> DESTINATION[, ...]  [OPTIONS]`, with the source's selector (every
/// tag, the listed tags, a /regex/ or a digest) and the options that apply to the rule: its own or, where it
/// has none, the run's (`options`): tag policy, platforms, referrers, prune, and the shard's exclusions.
/// Then a closing line counting rules and destinations. Every value is made printable.
std::string rules_plan_text(const std::vector<libregistry::sync_rule>& rules,
                            const libregistry::sync_options& options);

} // namespace syncer
