#include "output/summary.hpp"

#include "output/sync_report.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace syncer {

using namespace libregistry;

void log_summary(logger& log, const sync_report& report, std::uint64_t moved, std::string_view stopped_by,
                 std::string_view report_path, std::size_t max_failures) {
    // The report's byte count adds up finished images only; an image stopped mid-copy sent bytes too.
    sync_report counted = report;
    counted.totals.bytes_sent = std::max(report.totals.bytes_sent, moved);
    const auto document = report_json(counted, false, stopped_by);

    nlohmann::ordered_json fields;
    fields["event"] = "summary";
    for (const auto& [key, value] : document["totals"].items())
        fields[key] = value;
    fields["duration_ms"] = document["duration_ms"];
    fields["stopped_by"] = document["interrupted"];
    const bool trouble = report.totals.failed > 0 || report.totals.interrupted > 0 || pruning_failed(report);
    const auto text = summary_text(counted);
    if (trouble)
        log.error(text, fields);
    else
        log.info(text, fields);

    std::size_t failed = 0;
    for (const auto& image : document["images"]) {
        if (image["status"] != "failed") continue;
        if (++failed > max_failures) continue;
        const auto source = image["source"].get<std::string>();
        const auto destination = image["destination"].get<std::string>();
        const auto error = image["error"].get<std::string>();
        nlohmann::ordered_json f;
        f["event"] = "failed_image";
        f["source"] = source;
        f["destination"] = destination;
        f["error"] = error;
        f["rule"] = image["rule"];
        log.error(fmt::format("failed: {} -> {}: {}", source, destination, error), f);
    }
    if (failed > max_failures) {
        const auto more = failed - max_failures;
        const auto where = report_path.empty() ? std::string("--report FILE lists them all")
                                               : fmt::format("see the report, {}", report_path);
        log.error(fmt::format("and {} more failed {}; {}", more, more == 1 ? "image" : "images", where),
                  {{"event", "failed_images_not_shown"}, {"count", more}});
    }
}

} // namespace syncer
