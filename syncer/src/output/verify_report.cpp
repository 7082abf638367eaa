#include "output/verify_report.hpp"

#include "output/progress.hpp"

#include <fmt/format.h>

namespace syncer {

using namespace libregistry;

namespace {

std::string side_text(const reference& r) {
    return r.tag.empty() && !r.digest ? r.name() : r.str();
}

nlohmann::ordered_json result_json(const verify_result& r) {
    nlohmann::ordered_json j;
    j["source"] = side_text(r.item.source);
    j["destination"] = side_text(r.item.destination);
    j["origin"] = r.item.origin;
    j["status"] = std::string(to_string(r.status));
    j["reason"] = r.reason;
    j["source_digest"] = r.source_digest ? nlohmann::ordered_json(r.source_digest->str()) : nullptr;
    j["destination_digest"] =
        r.destination_digest ? nlohmann::ordered_json(r.destination_digest->str()) : nullptr;
    if (!r.problems.empty()) j["problems"] = r.problems;
    if (r.blobs_checked > 0) {
        j["blobs_checked"] = r.blobs_checked;
        j["bytes_checked"] = r.bytes_checked;
    }
    return j;
}

} // namespace

nlohmann::ordered_json verify_report_json(const verify_report& report, std::string_view interrupted_by) {
    nlohmann::ordered_json j;
    j["mode"] = report.deep ? "deep" : "head";
    j["drift"] = report.totals.drift() > 0;
    auto images = nlohmann::ordered_json::array();
    for (const auto& r : report.images)
        images.push_back(result_json(r));
    j["images"] = std::move(images);
    const auto& t = report.totals;
    j["totals"] = {{"images", report.images.size()},
                   {"in_sync", t.in_sync},
                   {"missing", t.missing},
                   {"different", t.different},
                   {"extra", t.extra},
                   {"damaged", t.damaged},
                   {"incomplete", t.incomplete},
                   {"failed", t.failed},
                   {"excluded", t.excluded},
                   {"interrupted", t.interrupted},
                   {"blobs_checked", t.blobs_checked},
                   {"bytes_checked", t.bytes_checked}};
    j["warnings"] = report.warnings;
    j["duration_ms"] = report.duration.count();
    j["interrupted_by"] = interrupted_by.empty() ? nlohmann::ordered_json(nullptr)
                                                 : nlohmann::ordered_json(std::string(interrupted_by));
    return j;
}

std::string verify_summary_text(const verify_report& report) {
    const auto& t = report.totals;
    return fmt::format(
        "verified {} images{}: {} in sync, {} missing, {} different, {} extra{}, {} failed{}{}; {}; {:.1f} s",
        report.images.size(), report.deep ? " (deep)" : "", t.in_sync, t.missing, t.different, t.extra,
        report.deep ? fmt::format(", {} damaged, {} incomplete", t.damaged, t.incomplete) : std::string(),
        t.failed,
        t.excluded ? fmt::format(", {} excluded by the platform filter", t.excluded) : std::string(),
        t.interrupted ? fmt::format(", {} interrupted", t.interrupted) : std::string(),
        report.deep
            ? fmt::format("{} blobs ({}) read back", t.blobs_checked, human_bytes(double(t.bytes_checked)))
            : std::string("HEAD only"),
        report.duration.count() / 1000.0);
}

void log_verify_result(logger& log, const verify_result& r) {
    auto fields = result_json(r);
    auto line = fmt::format("{} {} -> {}: {}", to_string(r.status), side_text(r.item.source),
                            side_text(r.item.destination), r.reason);
    if (r.status == verify_status::in_sync || r.status == verify_status::excluded) {
        log.info(line, fields);
        return;
    }
    log.error(line, fields);
    for (const auto& p : r.problems)
        log.error("  " + p);
}

} // namespace syncer
