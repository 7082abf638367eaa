// --metrics-file: the Prometheus text (names, HELP/TYPE, label escaping), the last success carried over from
// the previous file after a failed run, and the atomic write.
#include "output/metrics_file.hpp"
#include "session.hpp"
#include "temp_dir.hpp"

#include <libregistry/core/redact.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <sys/stat.h>

using namespace libregistry;
using namespace syncer;

namespace {

run_metrics sample() {
    run_metrics m;
    m.totals.copied = 3;
    m.totals.skipped = 2;
    m.totals.failed = 1;
    m.totals.bytes_sent = 123456789;
    m.totals.blobs_uploaded = 7;
    m.totals.blobs_mounted = 2;
    m.totals.blobs_skipped = 5;
    m.totals.manifests_pushed = 4;
    m.totals.referrers_found = 6;
    m.totals.referrers_copied = 5;
    m.duration_seconds = 12.5;
    m.succeeded = false;
    m.finished_at = 1714000000;
    remote_statistics hub;
    hub.requests = 40;
    hub.retries = 3;
    hub.errors = 1;
    hub.rate_limit_remaining = 97;
    remote_statistics mirror;
    mirror.requests = 20;
    m.registries = {{"docker.io", hub}, {"mirror.example:5000", mirror}};
    m.concurrency = {{"docker.io", {8, 32, 16, 64, 1}, {4, 16, 16, 16, 0}, {4, 8, 8, 16, 0}}};
    return m;
}

bool has_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        if (l == line) return true;
    return false;
}

std::string read(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

} // namespace

TEST_CASE("every metric has HELP and TYPE, a syncer_ name and the run's values") {
    const auto text = metrics_text(sample());
    for (const char* line : {
             "# TYPE syncer_images gauge",
             "syncer_images{status=\"copied\"} 3",
             "syncer_images{status=\"skipped\"} 2",
             "syncer_images{status=\"failed\"} 1",
             "syncer_images{status=\"interrupted\"} 0",
             "syncer_success 0",
             "syncer_duration_seconds 12.500",
             "syncer_last_run_timestamp_seconds 1714000000",
             "syncer_bytes_sent 123456789",
             "syncer_blobs{outcome=\"uploaded\"} 7",
             "syncer_blobs{outcome=\"mounted\"} 2",
             "syncer_manifests_pushed 4",
             "syncer_referrers{state=\"found\"} 6",
             "syncer_referrers{state=\"copied\"} 5",
             "syncer_registry_requests{registry=\"docker.io\"} 40",
             "syncer_registry_requests{registry=\"mirror.example:5000\"} 20",
             "syncer_registry_retries{registry=\"docker.io\"} 3",
             "syncer_registry_errors{registry=\"docker.io\"} 1",
             "syncer_registry_rate_limit_remaining{registry=\"docker.io\"} 97",
             "syncer_registry_concurrency{registry=\"docker.io\",kind=\"metadata\"} 16",
             "syncer_registry_concurrency{registry=\"docker.io\",kind=\"blobs\"} 16",
             "syncer_registry_concurrency_max{registry=\"docker.io\",kind=\"metadata\"} 32",
             "syncer_registry_concurrency_max{registry=\"docker.io\",kind=\"blobs\"} 16",
             "syncer_registry_concurrency{registry=\"docker.io\",kind=\"downloads\"} 8",
             "syncer_registry_concurrency_max{registry=\"docker.io\",kind=\"downloads\"} 8",
         })
        CHECK_MESSAGE(has_line(text, line), line, "\n", text);
    // Only registries that sent the header have a rate limit sample.
    CHECK(text.find("syncer_registry_rate_limit_remaining{registry=\"mirror.example:5000\"}") ==
          std::string::npos);
    // A failed run without a previous success says nothing about one.
    CHECK(text.find("syncer_last_success_timestamp_seconds") == std::string::npos);
    // Every sample's metric has its HELP and TYPE before it.
    std::istringstream in(text);
    std::string typed;
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("# TYPE ")) {
            typed = line.substr(7, line.find(' ', 7) - 7);
            continue;
        }
        if (line.starts_with("#")) continue;
        const auto name = line.substr(0, line.find_first_of("{ "));
        CHECK_MESSAGE(name.starts_with("syncer_"), line);
        CHECK_MESSAGE(name == typed, line);
    }
}

TEST_CASE("label values are escaped as the exposition format requires") {
    CHECK(escape_label_value("plain.example:5000") == "plain.example:5000");
    CHECK(escape_label_value("a\\b") == "a\\\\b");
    CHECK(escape_label_value("say \"hi\"") == "say \\\"hi\\\"");
    CHECK(escape_label_value("two\nlines") == "two\\nlines");
    auto m = sample();
    m.registries = {{"odd\"name\\\n", {}}};
    CHECK(has_line(metrics_text(m), "syncer_registry_requests{registry=\"odd\\\"name\\\\\\n\"} 0"));
}

TEST_CASE("the last success is now after a success, and the previous file's after a failure") {
    libregistry::testing::temp_dir dir("metrics_file_test");
    const auto path = (dir.path() / "syncer.prom").string();
    auto ok = sample();
    ok.succeeded = true;
    ok.finished_at = 1714000100;
    auto first = with_last_success(ok, path);
    REQUIRE(first.last_success);
    CHECK(*first.last_success == 1714000100);
    write_metrics_file(path, metrics_text(first));
    CHECK(has_line(read(path), "syncer_last_success_timestamp_seconds 1714000100"));
    CHECK(has_line(read(path), "syncer_success 1"));

    auto failed = sample();
    failed.finished_at = 1714090000;
    write_metrics_file(path, metrics_text(with_last_success(failed, path)));
    const auto text = read(path);
    CHECK(has_line(text, "syncer_success 0"));
    CHECK(has_line(text, "syncer_last_run_timestamp_seconds 1714090000"));
    CHECK(has_line(text, "syncer_last_success_timestamp_seconds 1714000100"));

    CHECK(previous_last_success("syncer_last_success_timestamp_seconds 17.5\n") == 17.5);
    CHECK_FALSE(previous_last_success("syncer_last_success_timestamp_seconds_x 17\n"));
    CHECK_FALSE(previous_last_success("syncer_last_success_timestamp_seconds garbage\n"));
    CHECK_FALSE(previous_last_success(""));
}

TEST_CASE("the file is replaced atomically, mode 0644, with no temporary left and no known secret") {
    libregistry::testing::temp_dir dir("metrics_file_test");
    const auto path = (dir.path() / "syncer.prom").string();
    known_secrets().add("metrics-test-S3cret");
    auto m = sample();
    m.registries = {{"metrics-test-S3cret.example", {}}};
    write_metrics_file(path, metrics_text(m));
    write_metrics_file(path, metrics_text(m));
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0644);
    CHECK(read(path).find("metrics-test-S3cret") == std::string::npos);
    CHECK(libregistry::testing::entries_in(dir.path()) == 1);
}

TEST_CASE("a metrics path in a missing directory is refused before the run") {
    CHECK_THROWS_AS(check_metrics_path("/nonexistent-dir-for-metrics/syncer.prom"), usage_error);
    CHECK_THROWS_AS(write_metrics_file("/nonexistent-dir-for-metrics/syncer.prom", "x"), usage_error);
}
