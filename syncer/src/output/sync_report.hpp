#pragma once
// Rendering a sync run for people and machines: the --report JSON, the --dry-run plan, log lines.
#include "output/logger.hpp"

#include <libregistry/sync/sync_runner.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace syncer {

/// The --report document: every image with its outcome, and totals. See docs/sync.md. `interrupted_by` names
/// the signal that stopped the run ("SIGINT"), empty when none did.
nlohmann::ordered_json report_json(const libregistry::sync_report& report, bool dry_run,
                                   std::string_view interrupted_by = {});

/// One line per image of a plan: `copy SRC -> DST (reason)` / `skip ...` / `fail ...`.
std::string plan_text(const libregistry::sync_report& report);

/// The closing summary line.
std::string summary_text(const libregistry::sync_report& report);

/// The line saying a run was stopped by `signal` ("SIGINT") and what it left undone.
std::string interrupted_text(const libregistry::sync_report& report, std::string_view signal);

/// The log line for a finished image, with its report entry as the JSON fields.
void log_image(logger& log, const libregistry::image_result& r);

} // namespace syncer
