#include "memory_registry.hpp"

#include <libregistry/sync/sync_runner.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <stop_token>
#include <thread>

using namespace libregistry;
using libregistry::testing::memory_registry;
namespace asio = boost::asio;

namespace {

class provider final : public registry_provider {
public:
    std::map<std::string, memory_registry*> regs;
    registry& get(const std::string& name) override { return *regs.at(name); }
};

sync_report run(std::vector<sync_rule> rules, provider& p, sync_options options = {}) {
    asio::io_context io;
    std::optional<result<sync_report>> out;
    asio::co_spawn(io, run_sync(std::move(rules), p, std::move(options)),
                   [&](std::exception_ptr e, result<sync_report> r) {
                       if (e) std::rethrow_exception(e);
                       out = std::move(r);
                   });
    io.run();
    return out->value();
}

manifest add_image(memory_registry& reg, const std::string& repo, const std::vector<std::string>& layers,
                   const std::string& tag) {
    std::string config = fmt::format(R"({{"os":"linux","n":"{}"}})", repo + tag);
    auto cd = reg.add_blob(repo, config);
    std::string layer_json;
    for (const auto& l : layers) {
        auto ld = reg.add_blob(repo, l);
        layer_json += fmt::format(
            R"({}{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}})",
            layer_json.empty() ? "" : ",", ld.str(), l.size());
    }
    return reg.add_manifest(
        repo,
        fmt::format(
            R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{}]}})",
            cd.str(), config.size(), layer_json),
        tag);
}

// An image whose config names `os_arch`, and an index of images (an empty platform lists a child without
// one, as nested indexes are).
manifest add_platform_image(memory_registry& reg, const std::string& repo, const std::string& layer,
                            const std::string& tag, const std::string& os_arch) {
    auto slash = os_arch.find('/');
    std::string config = fmt::format(R"({{"os":"{}","architecture":"{}","n":"{}"}})",
                                     os_arch.substr(0, slash), os_arch.substr(slash + 1), layer);
    auto cd = reg.add_blob(repo, config);
    auto ld = reg.add_blob(repo, layer);
    return reg.add_manifest(
        repo,
        fmt::format(
            R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}})",
            cd.str(), config.size(), ld.str(), layer.size()),
        tag);
}

manifest add_index(memory_registry& reg, const std::string& repo,
                   const std::vector<std::pair<manifest, std::string>>& children, const std::string& tag) {
    std::string entries;
    for (const auto& [m, plat] : children) {
        auto slash = plat.find('/');
        entries += fmt::format(R"({}{{"mediaType":"{}","digest":"{}","size":{}{}}})",
                               entries.empty() ? "" : ",", m.media_type, m.digest.str(), m.bytes.size(),
                               plat.empty() ? std::string()
                                            : fmt::format(R"(,"platform":{{"os":"{}","architecture":"{}"}})",
                                                          plat.substr(0, slash), plat.substr(slash + 1)));
    }
    return reg.add_manifest(
        repo,
        fmt::format(
            R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}})",
            entries),
        tag);
}

// Events as one line, for CAPTURE.
std::string in_order(const std::vector<std::string>& events) {
    std::string out;
    for (const auto& e : events)
        out += e + "; ";
    return out;
}

// Where `entry` first is in `events`; fails the test when it is not there.
std::ptrdiff_t position(const std::vector<std::string>& events, const std::string& entry) {
    auto it = std::find(events.begin(), events.end(), entry);
    REQUIRE_MESSAGE(it != events.end(), "missing: " << entry);
    return it - events.begin();
}

// Two repositories, `fast` and `slow`, with an image tagged 1 each.
void fast_and_slow(memory_registry& src, memory_registry& dst, provider& p) {
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_image(src, "fast", {"fast-layer"}, "1");
    add_image(src, "slow", {"slow-layer"}, "1");
}

sync_rule all_tags(const std::string& repo, std::vector<std::string> dst_repos) {
    sync_rule r;
    r.source.registry = "src";
    r.source.repository = repo;
    r.origin = "test:" + repo;
    for (auto& d : dst_repos)
        r.destinations.push_back(sync_destination{"dst", d, {}});
    return r;
}

} // namespace

TEST_CASE("a family sharing base layers sends each blob once per destination registry") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    for (auto repo : {"family/a", "family/b", "family/c"})
        add_image(src, repo, {"base-0", "base-1", std::string("own-") + repo}, "1");
    std::vector<sync_rule> rules;
    for (auto repo : {"family/a", "family/b", "family/c"})
        rules.push_back(all_tags(repo, {repo}));
    auto report = run(rules, p);
    CHECK(report.totals.copied == 3);
    CHECK(report.totals.failed == 0);
    auto uploads = [&](const std::string& content) {
        auto dg = digest_of(content).str();
        return std::count_if(dst.log.begin(), dst.log.end(),
                             [&](const std::string& l) { return l.starts_with("blob ") && l.ends_with(dg); });
    };
    CHECK(uploads("base-0") == 1);
    CHECK(uploads("base-1") == 1);
    CHECK(report.totals.blobs_mounted == 4);
    for (auto repo : {"family/a", "family/b", "family/c"})
        CHECK(dst.has_manifest(repo, "1"));
}

TEST_CASE("a second run is a no-op: HEADs only, nothing fetched or written") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_image(src, "app", {"l1"}, "1");
    add_image(src, "app", {"l2"}, "2");
    auto rules = std::vector<sync_rule>{all_tags("app", {"app", "copy/app"})};
    CHECK(run(rules, p).totals.copied == 4);
    auto writes = dst.log.size();
    src.manifest_gets = 0;
    src.blob_gets = 0;
    src.manifest_heads = 0;
    auto again = run(rules, p);
    CHECK(again.totals.skipped == 4);
    CHECK(again.totals.copied == 0);
    CHECK(dst.log.size() == writes);
    CHECK(src.manifest_gets == 0);
    CHECK(src.blob_gets == 0);
    CHECK(src.manifest_heads == 2); // one per source tag, shared by both destinations
}

// issue 10: a no-op rerun with --arch amd64 reported "1 copied, 0 already in sync" after a source manifest
// GET, destination blob HEADs and a manifest PUT; a mixed repository "10 copied, 3 already in sync".
TEST_CASE(
    "a filtered rerun: matching images in sync with HEADs only, an index for one GET, the rest excluded") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_platform_image(src, "mixed", "amd-layer", "amd", "linux/amd64");
    auto arm = add_platform_image(src, "mixed", "arm-layer", "arm", "linux/arm64");
    auto amd_child = add_platform_image(src, "mixed", "multi-amd", "", "linux/amd64");
    auto arm_child = add_platform_image(src, "mixed", "multi-arm", "", "linux/arm64");
    add_index(src, "mixed", {{amd_child, "linux/amd64"}, {arm_child, "linux/arm64"}}, "multi");
    sync_options options;
    options.copy.platforms = {parse_platform("linux/amd64").value()};
    std::vector<image_status> announced;
    options.on_event = [&](const sync_event& e) {
        if (e.what == sync_event::kind::image_done) announced.push_back(e.image->status);
    };
    auto rules = std::vector<sync_rule>{all_tags("mixed", {"mirror"})};

    auto first = run(rules, p, options);
    CHECK(first.totals.copied == 2);
    CHECK(first.totals.excluded == 1);
    CHECK(first.totals.failed == 0);
    CHECK(dst.has_manifest("mirror", "amd"));
    CHECK(dst.has_manifest("mirror", "multi"));
    CHECK_FALSE(dst.has_manifest("mirror", "arm"));
    CHECK_FALSE(dst.has_manifest("mirror", arm.digest.str()));
    CHECK_FALSE(dst.has_manifest("mirror", arm_child.digest.str()));

    auto writes = dst.log.size();
    src.manifest_gets = src.manifest_heads = src.blob_gets = 0;
    dst.manifest_heads = dst.manifest_gets = dst.blob_heads = 0;
    announced.clear();
    auto again = run(rules, p, options);
    CHECK(again.totals.copied == 0);
    CHECK(again.totals.skipped == 2);
    CHECK(again.totals.excluded == 1);
    CHECK(again.totals.failed == 0);
    CHECK(again.totals.manifests_pushed == 0);
    CHECK(dst.log.size() == writes);
    // The plan's HEADs on both sides, once per tag; the index is read to filter it, and the image that does
    // not match is read (manifest and config) to learn its platform. Nothing else: no blob HEAD, no PUT.
    CHECK(src.manifest_heads == 3);
    CHECK(dst.manifest_heads == 3);
    CHECK(src.manifest_gets == 2);
    CHECK(src.blob_gets == 1);
    CHECK(dst.blob_heads == 0);
    CHECK(dst.manifest_gets == 0);
    for (const auto& image : again.images) {
        CAPTURE(image.item.source.str());
        if (image.item.source.tag == "arm") {
            CHECK(image.status == image_status::excluded);
            CHECK(image.attempts == 1);
            CHECK(image.reason ==
                  "src/mixed:arm is a single-platform image for linux/arm64, which the platform "
                  "filter (linux/amd64) does not match; nothing to copy");
        } else {
            CHECK(image.status == image_status::skipped);
            CHECK(image.reason.starts_with(image.item.source.tag == "multi"
                                               ? "in sync after applying the platform filter (sha256:"
                                               : "in sync (sha256:"));
        }
    }
    CHECK(announced.size() == 3);
}

// issue 10: an index whose nested index held the only match failed "no entry ... matches", and the failure
// was tried again in every retry round (3 times, ~6 s).
TEST_CASE("the filter descends into nested indexes; an image nothing matches is excluded once, not retried") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    auto amd = add_platform_image(src, "nested", "amd", "", "linux/amd64");
    auto arm = add_platform_image(src, "nested", "arm", "", "linux/arm64");
    auto s390x = add_platform_image(src, "nested", "s390x", "", "linux/s390x");
    auto inner = add_index(src, "nested", {{amd, "linux/amd64"}, {arm, "linux/arm64"}}, "");
    add_index(src, "nested", {{inner, ""}, {s390x, "linux/s390x"}}, "v1");
    sync_options options;
    options.retries = 2;
    options.copy.platforms = {parse_platform("linux/arm64").value()};
    auto report = run({all_tags("nested", {"nested"})}, p, options);
    REQUIRE(report.images.size() == 1);
    CHECK(report.images[0].status == image_status::copied);
    CHECK(dst.has_manifest("nested", arm.digest.str()));
    CHECK_FALSE(dst.has_manifest("nested", amd.digest.str()));

    memory_registry other("dst");
    p.regs["dst"] = &other;
    src.manifest_gets = 0;
    options.copy.platforms = {parse_platform("linux/ppc64le").value()};
    auto none = run({all_tags("nested", {"nested"})}, p, options);
    REQUIRE(none.images.size() == 1);
    CHECK(none.images[0].status == image_status::excluded);
    CHECK(none.images[0].attempts == 1);
    CHECK(
        none.images[0].reason.find("matches platform(s) linux/ppc64le; available: linux/amd64, linux/arm64, "
                                   "linux/s390x") != std::string::npos);
    CHECK(none.totals.failed == 0);
    CHECK(src.manifest_gets == 2); // the outer and the inner index, once
    CHECK(other.log.empty());
}

TEST_CASE("dry run plans and writes nothing; failures do not stop the rest") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_image(src, "app", {"x"}, "1");
    sync_rule missing = all_tags("app", {"app"});
    missing.source.selector = tag_selector::listed;
    missing.source.tags = {"nope"};
    missing.destinations = {sync_destination{"dst", "other", {}}};
    sync_options dry;
    dry.dry_run = true;
    auto plan = run({all_tags("app", {"app"}), missing}, p, dry);
    CHECK(plan.totals.planned == 1);
    CHECK(plan.totals.failed == 1);
    CHECK(dst.log.empty());

    sync_options real;
    real.retries = 0;
    auto report = run({all_tags("app", {"app"}), missing}, p, real);
    CHECK(report.totals.copied == 1);
    CHECK(report.totals.failed == 1);
    auto failed = std::find_if(report.images.begin(), report.images.end(),
                               [](const image_result& r) { return r.status == image_status::failed; });
    REQUIRE(failed != report.images.end());
    CHECK(failed->reason.find("src/app:nope not found") != std::string::npos);
}

TEST_CASE("a repository whose tags cannot be listed fails its rules only") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_image(src, "app", {"x"}, "1");
    auto report = run({all_tags("app", {"app"}), all_tags("ghost", {"ghost"})}, p);
    CHECK(report.totals.copied == 1);
    CHECK(report.totals.failed == 1);
    CHECK(report.images.front().reason.find("listing tags of src/ghost") == 0);
}

TEST_CASE("a tag listing that fails for a passing reason is retried; one that keeps failing is announced") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_image(src, "app", {"x"}, "1");
    src.list_failures = 1;
    sync_options options;
    options.retries = 1;
    std::vector<std::string> announced;
    options.on_event = [&](const sync_event& e) {
        if (e.what == sync_event::kind::image_done)
            announced.push_back(std::string(to_string(e.image->status)));
    };
    auto report = run({all_tags("app", {"app"})}, p, options);
    CHECK(src.list_calls == 2);
    CHECK(report.totals.copied == 1);
    CHECK(dst.has_manifest("app", "1"));
    CHECK(announced == std::vector<std::string>{"copied"});

    memory_registry src2("src"), dst2("dst");
    p.regs = {{"src", &src2}, {"dst", &dst2}};
    add_image(src2, "app", {"x"}, "1");
    src2.list_failures = 5;
    announced.clear();
    options.retries = 0;
    report = run({all_tags("app", {"app"})}, p, options);
    CHECK(src2.list_calls == 1);
    CHECK(report.totals.failed == 1);
    CHECK(report.images.front().reason.find("listing tags of src/app: 503") == 0);
    CHECK(announced == std::vector<std::string>{"failed"});
}

// Regression (issue 10): tags from tags/list went into destination URLs unchecked; `../../pwned/manifests/v1`
// made syncer PUT outside the destination repository.
TEST_CASE("listed tags that are not tag names are skipped with one warning naming the repository") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_image(src, "app", {"x"}, "1");
    add_image(src, "app", {"x"}, "../../pwned/manifests/v1");
    add_image(src, "app", {"x"}, "forged\nERROR line");
    add_image(src, "app", {"x"}, std::string(300, 'a'));
    sync_options options;
    std::vector<std::string> warnings;
    options.on_event = [&](const sync_event& e) {
        if (e.what == sync_event::kind::warning) warnings.push_back(e.message);
    };
    auto report = run({all_tags("app", {"app"})}, p, options);
    CHECK(report.totals.copied == 1);
    CHECK(report.images.size() == 1);
    CHECK(dst.has_manifest("app", "1"));
    REQUIRE(warnings.size() == 1);
    CHECK(report.warnings == warnings);
    const auto& w = warnings.front();
    CHECK(w.find("src/app listed 3 tags that are not valid tag names") == 0);
    CHECK(w.find("\"../../pwned/manifests/v1\"") != std::string::npos);
    CHECK(w.find("forged\\nERROR line") != std::string::npos); // escaped, on one line
    CHECK(w.find('\n') == std::string::npos);
    for (const auto& entry : dst.log)
        CHECK(entry.find("pwned") == std::string::npos);
}

TEST_CASE("a source image mirrored to two registries is downloaded once") {
    memory_registry src("src"), dst("dst"), other("other");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}, {"other", &other}};
    add_image(src, "app", {"layer-a", "layer-b"}, "1");
    auto rule = all_tags("app", {"app"});
    rule.destinations.push_back(sync_destination{"other", "app", {}});
    auto report = run({rule}, p);
    CHECK(report.totals.copied == 2);
    CHECK(src.blob_gets == 3);
    CHECK(dst.has_manifest("app", "1"));
    CHECK(other.has_manifest("app", "1"));
}

// --- stopping (SIGINT / SIGTERM in the CLI)
// ------------------------------------------------------------------

namespace {

std::vector<sync_rule> four_repositories(memory_registry& src) {
    std::vector<sync_rule> rules;
    for (auto repo : {"stop/a", "stop/b", "stop/c", "stop/d"}) {
        add_image(src, repo, {std::string("one-") + repo, std::string("two-") + repo}, "1");
        rules.push_back(all_tags(repo, {repo}));
    }
    return rules;
}

// Every manifest the destination holds has all its blobs (the memory registry refuses anything else, so
// a manifest in the log proves its blobs were there first); checked here from the log's order as well.
void check_blobs_before_manifests(const memory_registry& dst) {
    std::set<std::string> repos_with_blobs;
    for (const auto& entry : dst.log) {
        if (entry.starts_with("blob ") || entry.starts_with("mount "))
            repos_with_blobs.insert(
                entry.substr(entry.find(' ') + 1, entry.rfind(' ') - entry.find(' ') - 1));
        if (entry.starts_with("manifest ")) {
            auto repo = entry.substr(9, entry.rfind(' ') - 9);
            CHECK_MESSAGE(repos_with_blobs.count(repo), "manifest before any blob: " << entry);
        }
    }
}

} // namespace

TEST_CASE("a stop between images finishes the image in flight and starts no other") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    auto rules = four_repositories(src);
    std::stop_source stop;
    // The first tag pushed is the end of the first image: stop right then.
    dst.on_write = [&](const std::string& entry) {
        if (entry.starts_with("manifest ")) stop.request_stop();
    };
    sync_options options;
    options.proc = 1;
    options.stop = stop.get_token();
    auto report = run(rules, p, options);
    CHECK(report.stopped);
    CHECK(report.totals.copied == 1);
    CHECK(report.totals.interrupted == 3);
    CHECK(report.totals.failed == 0);
    int manifests = 0;
    for (const auto& r : report.images) {
        if (r.status == image_status::copied) {
            CHECK(dst.has_manifest(r.item.destination.repository, "1"));
            continue;
        }
        CHECK(r.status == image_status::interrupted);
        CHECK(r.attempts == 0);
        CHECK(r.reason.find("not started") == 0);
        CHECK_FALSE(dst.has_manifest(r.item.destination.repository, "1"));
    }
    for (const auto& entry : dst.log)
        manifests += entry.starts_with("manifest ");
    CHECK(manifests == 1);
    check_blobs_before_manifests(dst);
}

TEST_CASE("a stop in the middle of an image pushes no manifest for it and retries nothing") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    auto rules = four_repositories(src);
    std::stop_source stop;
    // After the first blob: the image has blobs left to send, and then its manifest.
    dst.on_write = [&](const std::string& entry) {
        if (entry.starts_with("blob ")) stop.request_stop();
    };
    sync_options options;
    options.proc = 1;
    options.retries = 2;
    options.copy.jobs = 1;
    options.stop = stop.get_token();
    auto report = run(rules, p, options);
    CHECK(report.stopped);
    CHECK(report.totals.copied == 0);
    CHECK(report.totals.interrupted == 4);
    for (const auto& entry : dst.log)
        CHECK_FALSE(entry.starts_with("manifest "));
    int blobs = 0;
    for (const auto& entry : dst.log)
        blobs += entry.starts_with("blob ");
    CHECK(blobs == 1);
    auto started = std::count_if(report.images.begin(), report.images.end(),
                                 [](const image_result& r) { return r.attempts > 0; });
    CHECK(started == 1);
    for (const auto& r : report.images) {
        CHECK(r.status == image_status::interrupted);
        CHECK(r.attempts <= 1); // no retry round after the stop
        if (r.attempts == 1) CHECK(r.reason.find("stopped before copying blob") != std::string::npos);
    }
}

TEST_CASE("both sides of an item are HEADed at once: the destination's HEAD does not wait for the source's") {
    // Issue 14: a no-op run's chain per item was HEAD source, then HEAD destination. (Here the HEADs go out
    // right after the listing; resolve() overlaps them the same way for items nothing prefetched.)
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_image(src, "app", {"only-layer"}, "1");
    std::vector<std::string> reads;
    src.on_read = [&](const std::string& entry) { reads.push_back("src " + entry); };
    dst.on_read = [&](const std::string& entry) { reads.push_back("dst " + entry); };
    auto report = run({all_tags("app", {"app"})}, p);
    CHECK(report.totals.copied == 1);
    std::erase_if(reads, [](const std::string& r) { return r.find(" head ") == std::string::npos; });
    REQUIRE(reads.size() >= 2);
    // The destination's HEAD went out before the source's, so it cannot have waited for its answer.
    CHECK(reads[0] == "dst head app 1");
    CHECK(reads[1] == "src head app 1");
}

TEST_CASE("a repository's HEADs start when its tags are listed, before a slower listing answers") {
    // Issue 14: every listing, then every HEAD; now a fast repository's items are HEADed while a slow one is
    // still being listed. The plan and the outcome are the same.
    memory_registry src("src"), dst("dst");
    provider p;
    fast_and_slow(src, dst, p);
    src.list_yields["slow"] = 50;
    std::vector<std::string> reads;
    src.on_read = [&](const std::string& entry) { reads.push_back("src " + entry); };
    dst.on_read = [&](const std::string& entry) { reads.push_back("dst " + entry); };
    auto report = run({all_tags("fast", {"fast"}), all_tags("slow", {"slow"})}, p);
    CHECK(report.totals.copied == 2);
    const auto at = [&](const std::string& entry) { return position(reads, entry); };
    CAPTURE(in_order(reads));
    CHECK(at("src head fast 1") < at("src listed slow"));
    CHECK(at("dst head fast 1") < at("src listed slow"));
    // Each HEAD once, prefetched or not.
    CHECK(std::count(reads.begin(), reads.end(), "src head fast 1") == 1);
    CHECK(std::count(reads.begin(), reads.end(), "dst head slow 1") == 1);
}

TEST_CASE("open downloads stay within the source's blob limit while uploads wait for theirs") {
    // Issue 14: a download held no permit once its answer came, so every transfer of every image in flight
    // (--proc x --jobs) could hold an open GET, and a connection, while its upload waited for a permit.
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    std::vector<sync_rule> rules;
    for (int r = 0; r < 8; ++r) {
        const auto repo = fmt::format("app{}", r);
        add_image(src, repo, {repo + "-a", repo + "-b", repo + "-c"}, "1");
        rules.push_back(all_tags(repo, {repo}));
    }
    dst.yielding_uploads = true;
    sync_options options;
    options.blob_concurrency = {2, 2};
    auto report = run(rules, p, options);
    CHECK(report.totals.copied == 8);
    CHECK(src.readers_open_max <= 2);
    CHECK(src.readers_open == 0);
}

TEST_CASE("a two-way mirror with one-transfer blob limits finishes: downloads and uploads have limits of "
          "their own") {
    // Each registry is the other's source: with one pool per registry, a download holding one registry's
    // only permit could wait for an upload there while the other registry's download did the same.
    memory_registry east("east"), west("west");
    provider p;
    p.regs = {{"east", &east}, {"west", &west}};
    const std::string big(300 * 1024, 'x');
    for (int i = 0; i < 3; ++i) {
        add_image(east, fmt::format("e{}", i), {big + fmt::format("e{}", i)}, "1");
        add_image(west, fmt::format("w{}", i), {big + fmt::format("w{}", i)}, "1");
    }
    std::vector<sync_rule> rules;
    for (int i = 0; i < 3; ++i)
        for (const auto& [from, to, prefix] :
             {std::tuple{"east", "west", "e"}, std::tuple{"west", "east", "w"}}) {
            sync_rule r;
            r.source.registry = from;
            r.source.repository = fmt::format("{}{}", prefix, i);
            r.origin = fmt::format("test:{}{}", prefix, i);
            r.destinations.push_back(sync_destination{to, fmt::format("{}{}", prefix, i), {}});
            rules.push_back(r);
        }
    east.yielding_uploads = west.yielding_uploads = true;
    sync_options options;
    options.blob_concurrency = {1, 1};
    asio::io_context io;
    std::optional<result<sync_report>> out;
    asio::co_spawn(io, run_sync(rules, p, options), [&](std::exception_ptr e, result<sync_report> r) {
        if (e) std::rethrow_exception(e);
        out = std::move(r);
    });
    io.run_for(std::chrono::seconds(20));
    REQUIRE(out.has_value());
    REQUIRE(out->has_value());
    CHECK((*out)->totals.copied == 6);
}

TEST_CASE("tag listings go ahead of the HEADs queued at the registry's limit") {
    // Issue 14: a listing's answer sets off its repository's HEADs, which took the permits ahead of the
    // listings still waiting (a woken waiter found its room taken by a newcomer), so through a 40 ms link
    // the last listings of a no-op run came 450 ms after the first. Listings now queue ahead of HEADs, and
    // every queue is first come, first served.
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    std::vector<sync_rule> rules;
    for (int r = 0; r < 6; ++r) {
        const auto repo = fmt::format("app{}", r);
        for (int t = 0; t < 3; ++t)
            add_image(src, repo, {"layer"}, fmt::format("t{}", t));
        src.list_yields[repo] = 1;
        rules.push_back(all_tags(repo, {repo}));
    }
    src.yielding_heads = dst.yielding_heads = true;
    std::vector<std::string> reads;
    src.on_read = [&](const std::string& entry) { reads.push_back(entry); };
    sync_options options;
    options.metadata_concurrency = {2, 2};
    auto report = run(rules, p, options);
    CHECK(report.totals.copied == 18);
    CAPTURE(in_order(reads));
    const auto last_listing = std::find_if(reads.rbegin(), reads.rend(),
                                           [](const std::string& e) { return e.starts_with("listed "); });
    const auto first_head =
        std::find_if(reads.begin(), reads.end(), [](const std::string& e) { return e.starts_with("head "); });
    REQUIRE(last_listing != reads.rend());
    REQUIRE(first_head != reads.end());
    // The first repository's HEADs may take room no listing was waiting for; no other HEAD goes first.
    CHECK(std::count_if(reads.begin(), last_listing.base(),
                        [](const std::string& e) { return e.starts_with("head "); }) <= 3);
}

TEST_CASE("an image is copied as soon as both its HEADs are back, while other HEADs of the plan are out") {
    // Issue 14: copies started only once every HEAD of the run had answered.
    memory_registry src("src"), dst("dst");
    provider p;
    fast_and_slow(src, dst, p);
    src.head_yields["slow"] = 200;
    std::vector<std::string> events;
    src.on_read = [&](const std::string& entry) { events.push_back("src " + entry); };
    dst.on_write = [&](const std::string& entry) { events.push_back("dst " + entry); };
    auto report = run({all_tags("fast", {"fast"}), all_tags("slow", {"slow"})}, p);
    CHECK(report.totals.copied == 2);
    CAPTURE(in_order(events));
    CHECK(position(events, "dst manifest fast 1") < position(events, "src headed slow 1"));
    // The report keeps the rules' order, whatever order the images finished in.
    REQUIRE(report.images.size() == 2);
    CHECK(report.images[0].item.source.repository == "fast");
    CHECK(report.images[1].item.source.repository == "slow");
}

TEST_CASE("images start in the rules' order, each once its own plan and those before it are known") {
    // A slow HEAD of the first rule's image holds the second back (with --proc 1 they go one after the
    // other, as listed), so a run copies in the same order every time.
    memory_registry src("src"), dst("dst");
    provider p;
    fast_and_slow(src, dst, p);
    src.head_yields["slow"] = 200;
    std::vector<std::string> events;
    dst.on_write = [&](const std::string& entry) { events.push_back(entry); };
    sync_options options;
    options.proc = 1;
    auto report = run({all_tags("slow", {"slow"}), all_tags("fast", {"fast"})}, p, options);
    CHECK(report.totals.copied == 2);
    CAPTURE(in_order(events));
    CHECK(position(events, "manifest slow 1") < position(events, "manifest fast 1"));
}

TEST_CASE("a stop while an upload session opens gives the session back") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_image(src, "app", {"only-layer"}, "1");
    std::stop_source stop;
    dst.on_write = [&](const std::string& entry) {
        if (entry.starts_with("session ")) stop.request_stop();
    };
    sync_options options;
    options.stop = stop.get_token();
    auto report = run({all_tags("app", {"app"})}, p, options);
    CHECK(report.totals.interrupted == 1);
    CHECK(dst.cancelled_uploads == 1);
    CHECK(dst.log.empty());
    // The reason is the first blob failure recorded: the blob whose session opened ("stopped before sending
    // blob"), or the image's other blob, which notices the stop while the first waits for its download.
    CAPTURE(report.images.front().reason);
    CHECK(report.images.front().reason.find("stopped before") != std::string::npos);
}

TEST_CASE("a stop before the run lists, HEADs and writes nothing") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    auto rules = four_repositories(src);
    auto listed = rules.front();
    listed.source.selector = tag_selector::listed;
    listed.source.tags = {"1"};
    listed.destinations = {sync_destination{"dst", "listed", {}}};
    rules.push_back(listed);
    std::stop_source stop;
    stop.request_stop();
    sync_options options;
    options.stop = stop.get_token();
    auto report = run(rules, p, options);
    CHECK(report.stopped);
    CHECK(report.images.size() == 5);
    CHECK(report.totals.interrupted == 5);
    CHECK(report.images.front().reason.find("before the tags of src/stop/a were listed") !=
          std::string::npos);
    CHECK(report.images.back().reason.find("not started") == 0);
    CHECK(src.manifest_heads == 0);
    CHECK(dst.manifest_heads == 0);
    CHECK(dst.log.empty());
}

TEST_CASE("a stop during the pause before a retry round ends the run at once, from any thread") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_image(src, "broken", {"corrupt-layer"}, "1");
    src.corrupt.insert(digest_of("corrupt-layer"));
    std::stop_source stop;
    sync_options options;
    options.retries = 1; // the retry round waits 2 s first
    options.stop = stop.get_token();
    std::vector<const image_result*> reported;
    options.on_event = [&](const sync_event& e) {
        if (e.what == sync_event::kind::image_done) reported.push_back(e.image);
    };
    std::thread signaller([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        stop.request_stop();
    });
    auto started = std::chrono::steady_clock::now();
    auto report = run({all_tags("broken", {"broken"})}, p, options);
    auto elapsed = std::chrono::steady_clock::now() - started;
    signaller.join();
    CHECK(elapsed < std::chrono::milliseconds(1500));
    CHECK(report.stopped);
    REQUIRE(report.images.size() == 1);
    // It failed for real; the retry that might have fixed it never began.
    CHECK(report.images.front().status == image_status::failed);
    CHECK(report.images.front().attempts == 1);
    // Its failure is reported once, though the last round it was waiting for never came.
    CHECK(reported.size() == 1);
}

TEST_CASE("tally counts images by status and adds up what their copies did") {
    auto image = [](image_status status, std::uint64_t bytes = 0, int uploaded = 0, int mounted = 0,
                    int skipped = 0, int pushed = 0) {
        image_result r;
        r.status = status;
        r.stats.bytes_sent = bytes;
        r.stats.blobs_uploaded = uploaded;
        r.stats.blobs_mounted = mounted;
        r.stats.blobs_skipped = skipped;
        r.stats.manifests_pushed = pushed;
        return r;
    };
    auto totals = [](int copied, int skipped, int failed, int planned, int interrupted,
                     std::uint64_t bytes = 0, int uploaded = 0, int mounted = 0, int blobs_skipped = 0,
                     int pushed = 0, int excluded = 0) {
        return sync_totals{copied, skipped,  failed,  planned,       interrupted, excluded,
                           bytes,  uploaded, mounted, blobs_skipped, pushed};
    };
    struct row {
        const char* name;
        std::vector<image_result> images;
        sync_totals expected;
    };
    const std::vector<row> rows{
        {"no images", {}, totals(0, 0, 0, 0, 0)},
        {"one of each status",
         {image(image_status::copied), image(image_status::skipped), image(image_status::failed),
          image(image_status::planned), image(image_status::interrupted), image(image_status::excluded)},
         totals(1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1)},
        {"statistics add up across images",
         {image(image_status::copied, 1000, 3, 0, 1, 1), image(image_status::copied, 24, 1, 2, 0, 2)},
         totals(2, 0, 0, 0, 0, 1024, 4, 2, 1, 3)},
        {"a failed or interrupted image still counts what it sent before it stopped",
         {image(image_status::failed, 500, 1), image(image_status::interrupted, 7, 0, 1, 0, 0)},
         totals(0, 0, 1, 0, 1, 507, 1, 1)},
        {"a dry run's plan is counted, with nothing sent",
         {image(image_status::planned), image(image_status::planned), image(image_status::skipped)},
         totals(0, 1, 0, 2, 0)},
        {"blobs found in place are counted",
         {image(image_status::copied, 10, 1, 0, 4, 1)},
         totals(1, 0, 0, 0, 0, 10, 1, 0, 4, 1)},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        CHECK(tally(r.images) == r.expected);
    }
}

namespace {

// An image whose config says when it was created.
manifest add_created_image(memory_registry& reg, const std::string& repo, const std::string& tag,
                           const std::string& created) {
    std::string config =
        fmt::format(R"({{"os":"linux","architecture":"amd64","created":"{}","n":"{}"}})", created, tag);
    auto cd = reg.add_blob(repo, config);
    auto ld = reg.add_blob(repo, "layer-" + tag);
    return reg.add_manifest(
        repo,
        fmt::format(
            R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}})",
            cd.str(), config.size(), ld.str(), ("layer-" + tag).size()),
        tag);
}

std::set<std::string> destination_tags(const sync_report& report) {
    std::set<std::string> out;
    for (const auto& image : report.images)
        out.insert(image.item.destination.tag);
    return out;
}

} // namespace

TEST_CASE("latest: N over tags that are not versions ranks by creation time, fetching only the pool") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_created_image(src, "app", "main", "2026-07-21T10:00:00Z");
    add_created_image(src, "app", "nightly", "2026-07-22T08:23:00.5Z");
    add_created_image(src, "app", "stable", "2026-07-01T00:00:00Z");
    add_created_image(src, "app", "1.0.0", "2026-07-22T08:23:00Z");
    // An index: its first image (not the attestation) says when.
    auto amd = add_created_image(src, "app", "", "2026-07-23T00:00:00Z");
    add_index(src, "app", {{amd, "linux/amd64"}}, "edge");
    add_created_image(src, "app", "latest", "2026-07-24T00:00:00Z");

    auto rule = all_tags("app", {"app"});
    rule.policy.exclude = {"latest"};
    rule.policy.latest = 3;
    sync_options options;
    options.dry_run = true;
    auto planned = run({rule}, p, options);
    CHECK(destination_tags(planned) == std::set<std::string>{"edge", "nightly", "1.0.0"});
    // One manifest GET per pool tag (and one more for the index's image) and one config GET each; `latest`
    // was excluded, so nothing was read for it.
    CHECK(src.manifest_gets == 5 + 1);
    CHECK(src.blob_gets == 5);

    auto copied = run({rule}, p);
    CHECK(copied.totals.copied == 3);
    CHECK(dst.has_manifest("app", "edge"));
    CHECK_FALSE(dst.has_manifest("app", "main"));

    // A new image moves the window: the oldest of the three leaves it.
    add_created_image(src, "app", "hotfix", "2026-07-25T00:00:00Z");
    auto moved = run({rule}, p, options);
    CHECK(destination_tags(moved) == std::set<std::string>{"hotfix", "edge", "nightly"});
}

TEST_CASE("a policy the tag list decides reads no manifest: versions, or a pool within the window") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    for (auto tag : {"1.3.9", "1.4.0", "v1.5.0", "2.0.0-rc.1", "2026.0722.0823-6e32668", "latest"})
        add_image(src, "app", {std::string("l-") + tag}, tag);

    auto versions = all_tags("app", {"app"});
    versions.policy.include = {"latest", "/^v?1\\./"};
    versions.policy.latest = 2;
    auto mixed = all_tags("app", {"mixed"});
    mixed.policy.include = {"/^(latest|2)/"};
    mixed.policy.latest = 3;
    mixed.origin = "test:mixed";
    auto ranged = all_tags("app", {"ranged"});
    ranged.policy.semver = ">=1.4 <2";
    ranged.origin = "test:ranged";

    auto first = run({versions, mixed, ranged}, p);
    CHECK(first.totals.failed == 0);
    std::set<std::string> written;
    for (const auto& image : first.images)
        written.insert(image.item.destination.repository + ":" + image.item.destination.tag);
    CHECK(written == std::set<std::string>{"app:latest", "app:v1.5.0", "app:1.4.0", "mixed:latest",
                                           "mixed:2.0.0-rc.1", "mixed:2026.0722.0823-6e32668",
                                           "ranged:v1.5.0", "ranged:1.4.0"});

    src.manifest_gets = 0;
    src.blob_gets = 0;
    auto again = run({versions, mixed, ranged}, p);
    CHECK(again.totals.skipped == 8);
    CHECK(src.manifest_gets == 0);
    CHECK(src.blob_gets == 0);
}

TEST_CASE("a rule's own platforms filter its images, next to a rule without") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    auto amd = add_platform_image(src, "multi", "amd", "", "linux/amd64");
    auto arm = add_platform_image(src, "multi", "arm", "", "linux/arm64");
    add_index(src, "multi", {{amd, "linux/amd64"}, {arm, "linux/arm64"}}, "v1");
    auto only_arm = all_tags("multi", {"arm-only"});
    only_arm.platforms = {parse_platform("linux/arm64").value()};
    auto whole = all_tags("multi", {"whole"});
    whole.origin = "test:whole";
    auto report = run({only_arm, whole}, p);
    CHECK(report.totals.copied == 2);
    CHECK(dst.has_manifest("arm-only", arm.digest.str()));
    CHECK_FALSE(dst.has_manifest("arm-only", amd.digest.str()));
    CHECK(dst.has_manifest("whole", amd.digest.str()));
    CHECK(dst.has_manifest("whole", arm.digest.str()));
}

TEST_CASE("a creation time that cannot be read fails that rule's images only, naming the repository") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_created_image(src, "app", "main", "2026-07-21T10:00:00Z");
    auto nightly = add_created_image(src, "app", "nightly", "2026-07-22T08:23:00Z");
    src.corrupt.insert(nightly.config->digest);
    add_image(src, "other", {"o"}, "1");

    auto rule = all_tags("app", {"app"});
    rule.policy.latest = 1;
    auto report = run({rule, all_tags("other", {"other"})}, p);
    CHECK(report.totals.failed == 1);
    CHECK(report.totals.copied == 1);
    auto failed = std::find_if(report.images.begin(), report.images.end(),
                               [](const image_result& r) { return r.status == image_status::failed; });
    REQUIRE(failed != report.images.end());
    CHECK(failed->item.destination.repository == "app");
    CHECK(
        failed->reason.starts_with("reading creation times of the tags of src/app (for latest: 1): config "));
    CHECK(failed->reason.find("does not match its digest and size") != std::string::npos);
    CHECK_FALSE(dst.has_manifest("app", "main"));
    CHECK(dst.has_manifest("other", "1"));
}

TEST_CASE("pruning deletes the retired destination tags after every copy, by tag where the registry can") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_image(src, "app", {"l1"}, "2");
    add_image(src, "app", {"l2"}, "3");
    add_image(dst, "app", {"l0"}, "1"); // retired at the source
    add_image(dst, "app", {"l1"}, "2");
    auto r = all_tags("app", {"app"});
    r.prune = true;
    sync_options o;
    o.prune_max = prune_guard{100, true};
    auto report = run({r}, p, o);
    CHECK(report.totals.copied == 1);
    REQUIRE(report.deletions.size() == 1);
    CHECK(report.deletions[0].repository == "dst/app");
    CHECK(report.deletions[0].tag == "1");
    CHECK(report.deletions[0].status == delete_status::deleted);
    CHECK(report.prune_refusals.empty());
    REQUIRE(!dst.log.empty());
    CHECK(dst.log.back() == "untag app 1"); // after the copy's writes
    CHECK(std::count_if(dst.log.begin(), dst.log.end(),
                        [](const std::string& e) { return e.rfind("untag", 0) == 0; }) == 1);
    CHECK(!dst.has_manifest("app", "1"));
    CHECK(dst.has_manifest("app", "3"));
}

TEST_CASE("a dry run lists the deletions and deletes nothing") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_image(src, "app", {"l1"}, "2");
    add_image(dst, "app", {"l0"}, "1");
    add_image(dst, "app", {"l1"}, "2");
    auto r = all_tags("app", {"app"});
    r.prune = true;
    sync_options o;
    o.dry_run = true;
    o.prune_max = prune_guard{100, true};
    auto log_before = dst.log;
    auto report = run({r}, p, o);
    REQUIRE(report.deletions.size() == 1);
    CHECK(report.deletions[0].status == delete_status::planned);
    CHECK(dst.log == log_before);
    CHECK(dst.has_manifest("app", "1"));
}

TEST_CASE("where the registry deletes by digest only, a digest a kept tag shares is left with a warning") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    dst.deletes_by_digest_only = true;
    add_image(src, "app", {"l1"}, "stable");
    auto kept = add_image(dst, "app", {"l1"}, "stable");
    dst.add_manifest("app", kept.bytes, "stable-old"); // same digest as the kept tag
    add_image(dst, "app", {"l9"}, "gone");
    auto r = all_tags("app", {"app"});
    r.prune = true;
    sync_options o;
    o.prune_max = prune_guard{100, true};
    dst.manifest_heads = 0;
    auto report = run({r}, p, o);
    REQUIRE(report.deletions.size() == 2);
    CHECK(report.deletions[0].tag == "gone");
    CHECK(report.deletions[0].status == delete_status::deleted);
    CHECK(report.deletions[1].tag == "stable-old");
    CHECK(report.deletions[1].status == delete_status::left);
    CHECK(report.deletions[1].reason.find("would also take away stable (kept)") != std::string::npos);
    CHECK(dst.has_manifest("app", "stable"));
    CHECK(dst.has_manifest("app", "stable-old"));
    CHECK(!dst.has_manifest("app", "gone"));
    // The plan's HEAD of stable, one HEAD of the kept tag, one per tag deleted by digest.
    CHECK(dst.manifest_heads == 4);
    CHECK(std::any_of(report.warnings.begin(), report.warnings.end(), [](const std::string& w) {
        return w.find("left stable-old in place") != std::string::npos;
    }));
}

TEST_CASE("a registry that refuses deletes fails the first deletion clearly and is not asked again") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    dst.deletes_refused = true;
    add_image(src, "app", {"l1"}, "2");
    add_image(dst, "app", {"l1"}, "2");
    add_image(dst, "app", {"a"}, "old-a");
    add_image(dst, "app", {"b"}, "old-b");
    auto r = all_tags("app", {"app"});
    r.prune = true;
    sync_options o;
    o.prune_max = prune_guard{100, true};
    auto report = run({r}, p, o);
    CHECK(report.totals.skipped == 1);
    REQUIRE(report.deletions.size() == 2);
    CHECK(report.deletions[0].status == delete_status::failed);
    CHECK(report.deletions[0].reason.find("405 UNSUPPORTED") != std::string::npos);
    CHECK(report.deletions[1].status == delete_status::failed);
    CHECK(report.deletions[1].reason.rfind("not tried: ", 0) == 0);
    CHECK(dst.has_manifest("app", "old-a"));
}

TEST_CASE("pruning refuses when the source listing fails, and when the guard is exceeded") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_image(src, "app", {"l1"}, "2");
    add_image(dst, "app", {"l0"}, "1");
    add_image(dst, "app", {"l1"}, "2");
    auto r = all_tags("app", {"app"});
    r.prune = true;
    sync_options o;
    o.retries = 0;
    o.prune_max = prune_guard{100, true};
    src.list_failures = 1;
    auto report = run({r}, p, o);
    REQUIRE(report.prune_refusals.size() == 1);
    CHECK(report.prune_refusals[0].reason.find("could not be listed") != std::string::npos);
    CHECK(report.deletions.empty());
    CHECK(dst.has_manifest("app", "1"));

    o.prune_max = prune_guard{0, false};
    report = run({r}, p, o);
    REQUIRE(report.prune_refusals.size() == 1);
    CHECK(report.prune_refusals[0].would_delete == 1);
    CHECK(report.prune_refusals[0].reason.find("--prune-max 0") != std::string::npos);
    CHECK(dst.has_manifest("app", "1"));
}

TEST_CASE("an interrupted run prunes nothing, even in a repository whose copies finished") {
    memory_registry src("src"), dst("dst");
    provider p;
    p.regs = {{"src", &src}, {"dst", &dst}};
    add_image(src, "a", {"la"}, "2");
    add_image(src, "b", {"lb"}, "2");
    add_image(dst, "a", {"old-a"}, "1");
    add_image(dst, "b", {"old-b"}, "1");
    auto a = all_tags("a", {"a"});
    auto b = all_tags("b", {"b"});
    a.prune = b.prune = true;
    std::stop_source stop;
    dst.on_write = [&](const std::string& entry) {
        if (entry.starts_with("manifest ")) stop.request_stop();
    };
    sync_options o;
    o.proc = 1;
    o.stop = stop.get_token();
    o.prune_max = prune_guard{100, true};
    auto report = run({a, b}, p, o);
    CHECK(report.stopped);
    CHECK(report.totals.copied == 1);
    CHECK(report.deletions.empty());
    REQUIRE(report.prune_refusals.size() == 2);
    for (const auto& r : report.prune_refusals)
        CHECK(r.reason.find("interrupted") != std::string::npos);
    CHECK(dst.has_manifest("a", "1"));
    CHECK(dst.has_manifest("b", "1"));
    CHECK(std::none_of(dst.log.begin(), dst.log.end(), [](const std::string& e) {
        return e.starts_with("untag") || e.starts_with("delete");
    }));
}

// 60 tags of `app`, the same at both ends, whose HEADs yield (so calls overlap and are counted in flight).
static void in_sync_with_yielding_heads(memory_registry& src, memory_registry& dst, provider& p) {
    p.regs = {{"src", &src}, {"dst", &dst}};
    for (int i = 0; i < 60; ++i) {
        add_image(src, "app", {"x"}, fmt::format("t{}", i));
        add_image(dst, "app", {"x"}, fmt::format("t{}", i));
    }
    src.yielding_heads = dst.yielding_heads = true;
}

TEST_CASE("calls into a registry stay within its adaptive limit, which grows while nothing throttles") {
    memory_registry src("src"), dst("dst");
    provider p;
    in_sync_with_yielding_heads(src, dst, p);
    sync_options options;
    options.metadata_concurrency = {2, 6};
    auto report = run({all_tags("app", {"app"})}, p, options);
    CHECK(report.totals.skipped == 60);
    CHECK(src.heads_in_flight_max <= 6);
    CHECK(dst.heads_in_flight_max <= 6);
    CHECK(src.heads_in_flight_max > 2); // it grew
    REQUIRE(report.concurrency.size() == 2);
    const auto& source =
        report.concurrency[1].registry == "src" ? report.concurrency[1] : report.concurrency[0];
    CHECK(source.registry == "src");
    CHECK(source.metadata.start == 2);
    CHECK(source.metadata.max == 6);
    CHECK(source.metadata.cap == 6);
    CHECK(source.blobs == concurrency_summary{8, 8, 8, 16, 0}); // no blob call: the default, untouched
}

TEST_CASE("a registry that throttles (on_throttle) halves its limits, once per window") {
    memory_registry src("src"), dst("dst");
    provider p;
    in_sync_with_yielding_heads(src, dst, p);
    src.throttled_heads = 60;
    sync_options options;
    options.metadata_concurrency = {8, 8};
    // Referrer listings would go out among the HEADs, unthrottled, and let the limit grow back in between.
    options.referrers.enabled = false;
    auto report = run({all_tags("app", {"app"})}, p, options);
    CHECK(report.totals.skipped == 60);
    REQUIRE(report.concurrency.size() == 2);
    for (const auto& c : report.concurrency) {
        CAPTURE(c.registry);
        if (c.registry == "src") {
            // Every HEAD throttled: 8 -> 4 -> 2 -> 1, one halving per window of calls; blobs halve too.
            CHECK(c.metadata.decreases == 3);
            // Calls that started before the last halving may end a window without a throttle: one back.
            CHECK(c.metadata.final <= 2);
            CHECK(c.blobs.final == 4); // 8 halved once: no blob call ended the window of its first halving
            CHECK(src.heads_in_flight_max <= 8);
        } else {
            CHECK(c.metadata.decreases == 0);
        }
    }
}

TEST_CASE("fan-outs whose destinations come in opposite orders do not deadlock on one-transfer blob limits") {
    // Regression: each lane of a shared download (tee) waited for its registry's blob permit while the other
    // lane, holding the other registry's only permit, waited for it to take the next chunk; two images whose
    // destinations came in opposite orders then each held one registry and waited for the other forever.
    memory_registry src("src"), east("east"), west("west");
    provider p;
    p.regs = {{"src", &src}, {"east", &east}, {"west", &west}};
    const std::string big(600 * 1024, 'x'); // more than one chunk of the tee
    add_image(src, "one", {big + "1"}, "1");
    add_image(src, "two", {big + "2"}, "1");
    east.yielding_uploads = west.yielding_uploads = true;
    sync_rule one = all_tags("one", {});
    one.destinations = {sync_destination{"east", "one", {}}, sync_destination{"west", "one", {}}};
    sync_rule two = all_tags("two", {});
    two.destinations = {sync_destination{"west", "two", {}}, sync_destination{"east", "two", {}}};
    sync_options options;
    options.blob_concurrency = {1, 1};
    asio::io_context io;
    std::optional<result<sync_report>> out;
    asio::co_spawn(io, run_sync({one, two}, p, options), [&](std::exception_ptr e, result<sync_report> r) {
        if (e) std::rethrow_exception(e);
        out = std::move(r);
    });
    io.run_for(std::chrono::seconds(20));
    REQUIRE(out.has_value());
    REQUIRE(out->has_value());
    CHECK((*out)->totals.copied == 4);
    CHECK(src.blob_gets == 4); // each image's layer and config downloaded once for both registries
    for (auto* reg : {&east, &west}) {
        CHECK(reg->has_manifest("one", "1"));
        CHECK(reg->has_manifest("two", "1"));
    }
}
