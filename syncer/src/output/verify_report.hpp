#pragma once
// Rendering a verify run: the --report JSON, log lines, the summary line. See docs/verify.md.
#include "output/logger.hpp"

#include <libregistry/sync/verify.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace syncer {

/// The --report document: every image with its status, reason and (deep) problems, and totals.
/// `interrupted_by` names what stopped the run, empty when nothing did.
nlohmann::ordered_json verify_report_json(const libregistry::verify_report& report,
                                          std::string_view interrupted_by = {});

/// The closing summary line.
std::string verify_summary_text(const libregistry::verify_report& report);

/// The log line(s) for one checked image: an info line when in sync, an error line (and one per problem)
/// for drift and failures.
void log_verify_result(logger& log, const libregistry::verify_result& r);

} // namespace syncer
