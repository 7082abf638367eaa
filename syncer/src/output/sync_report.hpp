#pragma once
// Rendering a sync run for people and machines: the --report JSON, the --dry-run plan, log lines.
#include "output/logger.hpp"

#include <libregistry/client/remote_registry.hpp>
#include <libregistry/sync/sync_runner.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace syncer {

/// What the run's client counted per registry (name, counters), in the order the registries were opened.
using registry_statistics = std::vector<std::pair<std::string, libregistry::remote_statistics>>;

/// The --report document: every image with its outcome, totals, and what each registry of the run was asked
/// (`registries`). See docs/sync.md. `interrupted_by` names what stopped the run ("SIGINT", "SIGTERM",
/// "timeout"), empty when nothing did.
nlohmann::ordered_json report_json(const libregistry::sync_report& report, bool dry_run,
                                   std::string_view interrupted_by = {},
                                   const registry_statistics& registries = {});

/// One entry of the report's `registries` array: the registry's requests, token fetches, retries, errors,
/// the connections its requests opened and their TLS handshakes (full, resumed).
nlohmann::ordered_json registry_stats_json(const std::string& registry,
                                           const libregistry::remote_statistics& stats);

/// The `concurrency` object of a registry's entry in the report's `registries`: per kind (metadata requests,
/// blob transfers) the adaptive limit's start, highest value, value at the end, cap and halvings.
nlohmann::ordered_json concurrency_json(const libregistry::registry_concurrency& c);

/// One line per image of a plan: `copy SRC -> DST (reason)` / `skip ...` / `fail ...`; then one per tag
/// pruning would delete, `delete DST:TAG (reason)`, and per repository it refuses, `keep DST (reason)`.
std::string plan_text(const libregistry::sync_report& report);

/// The closing summary line.
std::string summary_text(const libregistry::sync_report& report);

/// The line saying a run was stopped and what it left undone; `cause` says what stopped it ("interrupted by
/// SIGINT", "timed out after 2 min (--timeout)").
std::string interrupted_text(const libregistry::sync_report& report, std::string_view cause);

/// Pruning deleted nothing it should have: a deletion failed, or a repository was refused.
bool pruning_failed(const libregistry::sync_report& report);

/// One log line per tag pruning deleted, found gone or failed to delete (those it left were warned about).
void log_deletions(logger& log, const libregistry::sync_report& report);

/// The log line for a finished image, with its report entry as the JSON fields.
void log_image(logger& log, const libregistry::image_result& r);

} // namespace syncer
