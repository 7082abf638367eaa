#pragma once
// The closing lines of a sync run (sync, jobs, sync-image): the summary, and the images that failed.
#include "output/logger.hpp"

#include <libregistry/sync/sync_runner.hpp>

#include <cstdint>
#include <string_view>

namespace syncer {

/// Images named one by one at the end of a run; the rest are counted (the report has them all).
inline constexpr std::size_t summary_failures_shown = 20;

/// Logs the summary line (sync_report's summary_text) and then one line per failed image with its error, at
/// most `max_failures`, then `and N more failed images; ...`. `moved` is what the run's transfers sent, as
/// the live line counts it (transfer_tally::moved): interrupted and retried transfers included, which the
/// report's per-image totals leave out; the summary says the larger of the two. `stopped_by` is what stopped
/// the run ("SIGINT", "timeout", or empty); `report_path` is --report, empty without. As JSON (event
/// `summary`, level error when anything failed or was interrupted) the summary carries the report's totals as
/// fields, with `stopped_by`; each failure is a `failed_image` line with source, destination, error and rule.
void log_summary(logger& log, const libregistry::sync_report& report, std::uint64_t moved,
                 std::string_view stopped_by, std::string_view report_path,
                 std::size_t max_failures = summary_failures_shown);

} // namespace syncer
