// The sync report's referrers: per image counts in the report JSON and the log, the totals, the dry-run plan
// and the closing summary.
#include "output/sync_report.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>

using namespace libregistry;
using namespace syncer;

namespace {

image_result image(std::string tag, image_status status) {
    image_result r;
    r.item.source = *parse_reference("quay.io/org/app:" + tag);
    r.item.destination = *parse_reference("mirror.example/org/app:" + tag);
    r.item.origin = "images.yaml:1";
    r.status = status;
    r.reason = status == image_status::skipped ? "same digest" : "missing at the destination";
    r.digest = *digest::parse("sha256:" + std::string(64, 'a'));
    r.attempts = status == image_status::planned ? 0 : 1;
    return r;
}

/// Three images: one copied with referrers (one with a note), one in sync that got a new signature, one
/// without referrers.
sync_report report_with_referrers() {
    sync_report report;
    auto copied = image("1.0", image_status::copied);
    copied.stats.referrers.found = 3;
    copied.stats.referrers.copied = 2;
    copied.stats.referrers.present = 1;
    copied.stats.referrers.excluded = 1;
    copied.stats.referrers.fallback_updates = 1;
    copied.stats.referrers.notes.push_back("1 referrer of the index sha256:... not carried");
    auto in_sync = image("1.1", image_status::skipped);
    in_sync.stats.referrers.found = 1;
    in_sync.stats.referrers.copied = 1;
    report.images = {copied, in_sync, image("1.2", image_status::skipped)};
    report.totals = tally(report.images);
    report.totals.referrers_found = 4;
    report.totals.referrers_copied = 3;
    return report;
}

/// What `log` wrote through a temporary file.
template <class Write>
std::string logged(bool json, Write write) {
    std::FILE* file = std::tmpfile();
    REQUIRE(file != nullptr);
    logger log(json, file);
    write(log);
    std::rewind(file);
    std::string out;
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, file)) > 0;)
        out.append(buffer, n);
    std::fclose(file);
    return out;
}

} // namespace

TEST_CASE("report_json: referrers per image when there are any, and in the totals") {
    const auto j = report_json(report_with_referrers(), false);
    CHECK(j["totals"]["referrers_found"] == 4);
    CHECK(j["totals"]["referrers_copied"] == 3);
    const auto& images = j["images"];
    REQUIRE(images.size() == 3);
    CHECK(images[0]["referrers"].dump() ==
          R"({"found":3,"copied":2,"present":1,"excluded":1,"not_carried":0,"fallback_updates":1})");
    CHECK(images[1]["referrers"]["copied"] == 1);
    // An image without referrers (or whose referrers were not looked at) has no such field.
    CHECK_FALSE(images[2].contains("referrers"));
}

TEST_CASE("report_json: a run without referrers reports zero totals") {
    sync_report report;
    report.images = {image("1.0", image_status::copied)};
    report.totals = tally(report.images);
    const auto j = report_json(report, false);
    CHECK(j["totals"]["referrers_found"] == 0);
    CHECK(j["totals"]["referrers_copied"] == 0);
    CHECK_FALSE(j["images"][0].contains("referrers"));
}

TEST_CASE("report_json: the adaptive concurrency of every registry the run called") {
    sync_report report;
    report.concurrency = {{"quay.io", {8, 32, 16, 64, 2}, {4, 4, 4, 16, 0}, {4, 16, 12, 16, 1}},
                          {"mirror.example:5000", {4, 4, 4, 4, 0}, {2, 2, 1, 2, 1}, {2, 2, 2, 2, 0}}};
    const auto j = report_json(report, false);
    REQUIRE(j["registries"].size() == 2);
    CHECK(j["registries"][0].dump() ==
          R"({"registry":"quay.io","concurrency":{"metadata":{"start":8,"max":32,"final":16,"cap":64,)"
          R"("decreases":2},"blobs":{"start":4,"max":4,"final":4,"cap":16,"decreases":0},)"
          R"("downloads":{"start":4,"max":16,"final":12,"cap":16,"decreases":1}}})");
    CHECK(j["registries"][1]["registry"] == "mirror.example:5000");
    CHECK(j["registries"][1]["concurrency"]["blobs"]["final"] == 1);
    CHECK(j["registries"][1]["concurrency"]["blobs"]["decreases"] == 1);
    CHECK(report_json(sync_report{}, false)["registries"] == nlohmann::ordered_json::array());
}

TEST_CASE("plan_text: a dry run counts the referrers each image would bring") {
    sync_report report;
    auto signed_image = image("1.0", image_status::planned);
    signed_image.stats.referrers.found = 3;
    auto one = image("1.1", image_status::skipped);
    one.stats.referrers.found = 1;
    report.images = {signed_image, one, image("1.2", image_status::planned)};
    CHECK(plan_text(report) ==
          "copy quay.io/org/app:1.0 -> mirror.example/org/app:1.0 (missing at the destination; 3 referrers)\n"
          "skip quay.io/org/app:1.1 -> mirror.example/org/app:1.1 (same digest; 1 referrer)\n"
          "copy quay.io/org/app:1.2 -> mirror.example/org/app:1.2 (missing at the destination)\n");
}

TEST_CASE("summary_text: referrers are mentioned when the run found any") {
    const auto with = summary_text(report_with_referrers());
    CHECK_MESSAGE(with.find("; referrers: 4 found, 3 copied") != std::string::npos, with);
    sync_report without;
    without.images = {image("1.0", image_status::copied)};
    without.totals = tally(without.images);
    const auto text = summary_text(without);
    CHECK_MESSAGE(text.find("referrer") == std::string::npos, text);
}

TEST_CASE("log_image: the image line says what happened to its referrers") {
    const auto report = report_with_referrers();
    const auto text = logged(false, [&](logger& log) {
        for (const auto& r : report.images)
            log_image(log, r);
    });
    CHECK_MESSAGE(
        text.find(
            "info copied quay.io/org/app:1.0 -> mirror.example/org/app:1.0 (sha256:" + std::string(64, 'a') +
            ", 0 B sent, 2 referrers copied, 1 already there, 1 excluded by type)\n") != std::string::npos,
        text);
    // Notes reach the log as the run's warnings (sync_event::warning), once, not with the image line.
    CHECK_MESSAGE(text.find("not carried") == std::string::npos, text);
    CHECK_MESSAGE(text.find("info in sync quay.io/org/app:1.1 -> mirror.example/org/app:1.1 (1 referrer "
                            "copied)\n") != std::string::npos,
                  text);
    CHECK_MESSAGE(text.find("info in sync quay.io/org/app:1.2 -> mirror.example/org/app:1.2\n") !=
                      std::string::npos,
                  text);

    const auto json = logged(true, [&](logger& log) { log_image(log, report.images[0]); });
    CHECK_MESSAGE(json.find(R"("referrers":{"found":3,"copied":2,)") != std::string::npos, json);
}
