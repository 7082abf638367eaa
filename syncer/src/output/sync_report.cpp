#include "output/sync_report.hpp"

#include "output/progress.hpp"
#include "output/referrers_output.hpp"
#include "text.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <libregistry/core/redact.hpp>

namespace syncer {

using namespace libregistry;

namespace {

std::string source_text(const sync_item& item) {
    return item.source.tag.empty() && !item.source.digest ? item.source.name() : item.source.str();
}

std::string destination_text(const sync_item& item) {
    return item.destination.tag.empty() && !item.destination.digest ? item.destination.name()
                                                                    : item.destination.str();
}

nlohmann::ordered_json image_json(const image_result& r) {
    nlohmann::ordered_json j;
    j["source"] = source_text(r.item);
    j["destination"] = destination_text(r.item);
    j["digest"] = r.digest ? nlohmann::ordered_json(r.digest->str()) : nlohmann::ordered_json(nullptr);
    j["status"] = std::string(to_string(r.status));
    if (r.status == image_status::failed) {
        j["error"] = r.reason;
    } else {
        j["reason"] = r.reason;
    }
    j["bytes_sent"] = r.stats.bytes_sent;
    j["blobs_uploaded"] = r.stats.blobs_uploaded;
    j["blobs_mounted"] = r.stats.blobs_mounted;
    j["blobs_skipped"] = r.stats.blobs_skipped;
    j["manifests_pushed"] = r.stats.manifests_pushed;
    j["duration_ms"] = r.stats.duration.count();
    if (has_referrers(r.stats.referrers)) j["referrers"] = referrers_stats_json(r.stats.referrers);
    j["attempts"] = r.attempts;
    j["rule"] = r.item.origin;
    return j;
}

nlohmann::ordered_json deletion_json(const prune_result& r) {
    nlohmann::ordered_json j;
    j["repository"] = r.repository;
    j["tag"] = r.tag;
    j["status"] = std::string(to_string(r.status));
    j["reason"] = r.reason;
    j["rule"] = r.origin;
    return j;
}

struct prune_counts {
    int deleted = 0;
    int planned = 0;
    int left = 0;
    int failed = 0;
};

prune_counts count_deletions(const sync_report& report) {
    prune_counts c;
    for (const auto& d : report.deletions)
        switch (d.status) {
        case delete_status::deleted:
        case delete_status::absent:
            ++c.deleted;
            break;
        case delete_status::planned:
            ++c.planned;
            break;
        case delete_status::left:
            ++c.left;
            break;
        case delete_status::failed:
            ++c.failed;
            break;
        }
    return c;
}

} // namespace

bool pruning_failed(const sync_report& report) {
    return !report.prune_refusals.empty() || count_deletions(report).failed > 0;
}

void log_deletions(logger& log, const sync_report& report) {
    for (const auto& d : report.deletions) {
        auto fields = deletion_json(d);
        fields["event"] = "prune";
        auto where = fmt::format("{}:{}", d.repository, d.tag);
        if (d.status == delete_status::failed)
            log.error(fmt::format("pruning {} failed: {}", where, d.reason), fields);
        else if (d.status == delete_status::deleted)
            log.info(fmt::format("pruned {} ({})", where, d.reason), fields);
        else if (d.status == delete_status::absent)
            log.info(fmt::format("pruned {}: gone already", where), fields);
    }
}

nlohmann::ordered_json registry_stats_json(const std::string& registry, const remote_statistics& stats) {
    nlohmann::ordered_json j;
    j["registry"] = registry;
    j["requests"] = stats.requests;
    j["token_fetches"] = stats.token_fetches;
    j["retries"] = stats.retries;
    j["errors"] = stats.errors;
    j["connections"] = stats.connections;
    j["tls_handshakes"] = stats.tls_handshakes;
    j["tls_resumed"] = stats.tls_resumed;
    return j;
}

nlohmann::ordered_json report_json(const sync_report& report, bool dry_run, std::string_view interrupted_by,
                                   const registry_statistics& registries) {
    nlohmann::ordered_json j;
    j["version"] = 1;
    j["dry_run"] = dry_run;
    j["interrupted"] = interrupted_by.empty() ? nlohmann::ordered_json(nullptr)
                                              : nlohmann::ordered_json(std::string(interrupted_by));
    j["duration_ms"] = report.duration.count();
    const auto& t = report.totals;
    j["totals"] = {{"images", report.images.size()},
                   {"copied", t.copied},
                   {"skipped", t.skipped},
                   {"failed", t.failed},
                   {"planned", t.planned},
                   {"interrupted", t.interrupted},
                   {"excluded", t.excluded},
                   {"bytes_sent", t.bytes_sent},
                   {"blobs_uploaded", t.blobs_uploaded},
                   {"blobs_mounted", t.blobs_mounted},
                   {"blobs_skipped", t.blobs_skipped},
                   {"manifests_pushed", t.manifests_pushed},
                   {"referrers_found", t.referrers_found},
                   {"referrers_copied", t.referrers_copied}};
    auto c = count_deletions(report);
    j["totals"]["pruning"] = {{"deleted", c.deleted},
                              {"planned", c.planned},
                              {"left", c.left},
                              {"failed", c.failed},
                              {"refused_repositories", report.prune_refusals.size()}};
    auto images = nlohmann::ordered_json::array();
    for (const auto& r : report.images)
        images.push_back(image_json(r));
    j["images"] = std::move(images);
    auto deletions = nlohmann::ordered_json::array();
    for (const auto& d : report.deletions)
        deletions.push_back(deletion_json(d));
    j["deletions"] = std::move(deletions);
    auto refusals = nlohmann::ordered_json::array();
    for (const auto& r : report.prune_refusals)
        refusals.push_back({{"repository", r.repository},
                            {"reason", r.reason},
                            {"would_delete", r.would_delete},
                            {"rule", r.origin}});
    j["prune_refusals"] = std::move(refusals);
    // One entry per registry: its request and connection counters, and what its adaptive limits did.
    auto per_registry = nlohmann::ordered_json::array();
    for (const auto& [name, stats] : registries)
        per_registry.push_back(registry_stats_json(name, stats));
    for (const auto& c : report.concurrency) {
        auto same = std::find_if(per_registry.begin(), per_registry.end(),
                                 [&](const auto& e) { return e["registry"] == c.registry; });
        if (same == per_registry.end())
            per_registry.push_back({{"registry", c.registry}, {"concurrency", concurrency_json(c)}});
        else
            (*same)["concurrency"] = concurrency_json(c);
    }
    j["registries"] = std::move(per_registry);
    // Image errors quote registries, which may echo credentials.
    scrub_secrets_in(j);
    return j;
}

nlohmann::ordered_json concurrency_json(const registry_concurrency& c) {
    const auto kind = [](const concurrency_summary& s) {
        return nlohmann::ordered_json{{"start", s.start},
                                      {"max", s.max},
                                      {"final", s.final},
                                      {"cap", s.cap},
                                      {"decreases", s.decreases}};
    };
    return {{"metadata", kind(c.metadata)}, {"blobs", kind(c.blobs)}, {"downloads", kind(c.downloads)}};
}

std::string plan_text(const sync_report& report) {
    std::string out;
    for (const auto& r : report.images) {
        const char* verb = r.status == image_status::skipped       ? "skip"
                           : r.status == image_status::failed      ? "fail"
                           : r.status == image_status::interrupted ? "interrupted"
                           : r.status == image_status::excluded    ? "exclude"
                                                                   : "copy";
        // A dry run counts the referrers it would carry (found at the source).
        const auto found = r.stats.referrers.found;
        out += fmt::format(
            "{} {} -> {} ({}{})\n", verb, source_text(r.item), destination_text(r.item), r.reason,
            found > 0 ? fmt::format("; {} referrer{}", found, found == 1 ? "" : "s") : std::string());
    }
    for (const auto& d : report.deletions)
        out += fmt::format("{} {}:{} ({})\n",
                           d.status == delete_status::planned ? "delete" : to_string(d.status), d.repository,
                           d.tag, d.reason);
    for (const auto& r : report.prune_refusals)
        out += fmt::format("keep {} ({} tags not pruned: {})\n", r.repository, r.would_delete, r.reason);
    return scrub_secrets(out);
}

namespace {

// The summary's pruning part, when the run pruned or meant to.
std::string pruning_text(const sync_report& report) {
    auto c = count_deletions(report);
    if (report.deletions.empty() && report.prune_refusals.empty()) return {};
    std::string out = fmt::format("; pruning: {} deleted", c.deleted);
    if (c.planned) out += fmt::format(", {} to delete", c.planned);
    if (c.left) out += fmt::format(", {} left (digest still needed)", c.left);
    if (c.failed) out += fmt::format(", {} failed", c.failed);
    if (!report.prune_refusals.empty())
        out += fmt::format(", {} repositories refused", report.prune_refusals.size());
    return out;
}

// The summary's referrers part, when the run found any.
std::string referrers_text(const sync_report& report) {
    const auto& t = report.totals;
    if (t.referrers_found == 0 && t.referrers_copied == 0) return {};
    return fmt::format("; referrers: {} found, {} copied", t.referrers_found, t.referrers_copied);
}

} // namespace

std::string summary_text(const sync_report& report) {
    const auto& t = report.totals;
    return fmt::format(
               "{}: {} copied, {} already in sync{}, {} failed{}{}; {} sent, {} uploaded, {} "
               "mounted, "
               "{} already present; {:.1f} s",
               plural(report.images.size(), "image", "images"), t.copied, t.skipped,
               t.excluded ? fmt::format(", {} excluded by the platform filter", t.excluded) : std::string(),
               t.failed, t.interrupted ? fmt::format(", {} interrupted", t.interrupted) : std::string(),
               t.planned ? fmt::format(", {} to copy", t.planned) : std::string(),
               human_bytes(double(t.bytes_sent)), plural(std::uint64_t(t.blobs_uploaded), "blob", "blobs"),
               t.blobs_mounted, t.blobs_skipped, report.duration.count() / 1000.0) +
           referrers_text(report) + pruning_text(report);
}

std::string interrupted_text(const sync_report& report, std::string_view cause) {
    int started = 0;
    int not_started = 0;
    for (const auto& r : report.images)
        if (r.status == image_status::interrupted) ++(r.attempts > 0 ? started : not_started);
    return fmt::format(
        "{}: {} of {} done ({} copied, {} already in sync{}), {} failed, {} "
        "stopped mid-copy, {} not started; no tag points at an incomplete image, and the next "
        "run resumes",
        cause, report.totals.copied + report.totals.skipped + report.totals.excluded,
        plural(report.images.size(), "image", "images"), report.totals.copied, report.totals.skipped,
        report.totals.excluded ? fmt::format(", {} excluded", report.totals.excluded) : std::string(),
        report.totals.failed, started, not_started);
}

void log_image(logger& log, const image_result& r) {
    auto fields = image_json(r);
    const auto carried = referrers_outcome(r.stats.referrers);
    fields["event"] = "image";
    if (r.status == image_status::failed)
        log.error(fmt::format("failed {} -> {}: {}", source_text(r.item), destination_text(r.item), r.reason),
                  fields);
    else if (r.status == image_status::interrupted)
        log.error(
            fmt::format("interrupted {} -> {}: {}", source_text(r.item), destination_text(r.item), r.reason),
            fields);
    else if (r.status == image_status::skipped)
        log.info(fmt::format("in sync {} -> {}{}", source_text(r.item), destination_text(r.item),
                             carried.empty() ? std::string() : fmt::format(" ({})", carried)),
                 fields);
    else if (r.status == image_status::excluded)
        log.info(
            fmt::format("excluded {} -> {}: {}", source_text(r.item), destination_text(r.item), r.reason),
            fields);
    else
        log.info(fmt::format("copied {} -> {} ({}, {} sent{})", source_text(r.item), destination_text(r.item),
                             r.digest ? r.digest->str() : "", human_bytes(double(r.stats.bytes_sent)),
                             carried.empty() ? std::string() : fmt::format(", {}", carried)),
                 fields);
}

} // namespace syncer
