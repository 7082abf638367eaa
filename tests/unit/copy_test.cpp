#include "memory_registry.hpp"

#include <libregistry/sync/copy.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <stop_token>

using namespace libregistry;
using libregistry::testing::memory_registry;
namespace asio = boost::asio;

namespace {

template <class T>
T run(asio::awaitable<T> task) {
    asio::io_context io;
    std::optional<T> out;
    asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
        if (e) std::rethrow_exception(e);
        out = std::move(value);
    });
    io.run();
    return std::move(*out);
}

std::string descriptor_json(std::string_view media_type, const digest& d, std::size_t size,
                            std::string_view extra = {}) {
    return fmt::format(R"({{"mediaType":"{}","digest":"{}","size":{}{}}})", media_type, d.str(), size, extra);
}

// Seeds `repo` with an OCI image of the given layer contents for `os_arch`; returns its manifest.
manifest add_image(memory_registry& reg, const std::string& repo, const std::vector<std::string>& layers,
                   const std::string& tag = {}, const std::string& os_arch = "linux/amd64") {
    auto slash = os_arch.find('/');
    std::string config = fmt::format(R"({{"architecture":"{}","os":"{}","layers":{}}})",
                                     os_arch.substr(slash + 1), os_arch.substr(0, slash), layers.size());
    auto config_digest = reg.add_blob(repo, config);
    std::string layer_json;
    for (const auto& l : layers) {
        auto d = reg.add_blob(repo, l);
        if (!layer_json.empty()) layer_json += ",";
        layer_json += descriptor_json("application/vnd.oci.image.layer.v1.tar+gzip", d, l.size());
    }
    auto bytes = fmt::format(
        R"({{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[{}]}})", media_types::oci_manifest,
        descriptor_json("application/vnd.oci.image.config.v1+json", config_digest, config.size()),
        layer_json);
    return reg.add_manifest(repo, bytes, tag);
}

manifest add_index(memory_registry& reg, const std::string& repo,
                   const std::vector<std::pair<manifest, std::string>>& children, const std::string& tag) {
    std::string entries;
    for (const auto& [m, plat] : children) {
        auto slash = plat.find('/');
        if (!entries.empty()) entries += ",";
        // An empty platform lists the child without one, as nested indexes usually are.
        entries +=
            descriptor_json(m.media_type, m.digest, m.bytes.size(),
                            plat.empty() ? std::string()
                                         : fmt::format(R"(,"platform":{{"os":"{}","architecture":"{}"}})",
                                                       plat.substr(0, slash), plat.substr(slash + 1)));
    }
    auto bytes = fmt::format(R"({{"schemaVersion":2,"mediaType":"{}","manifests":[{}]}})",
                             media_types::oci_index, entries);
    return reg.add_manifest(repo, bytes, tag);
}

reference image(const std::string& text) {
    return parse_reference(text).value();
}

std::ptrdiff_t position(const std::vector<std::string>& log, const std::string& entry) {
    auto it = std::find(log.begin(), log.end(), entry);
    REQUIRE_MESSAGE(it != log.end(), "missing log entry: " << entry);
    return it - log.begin();
}

} // namespace

TEST_CASE("an image arrives with the same digest, blobs before the manifest") {
    memory_registry src("src.example"), dst("dst.example");
    auto m = add_image(src, "app", {"layer-one", "layer-two"}, "1.0");
    auto stats =
        run(copy_image(src, image("src.example/app:1.0"), dst, image("dst.example/mirror/app"), {})).value();
    CHECK(stats.manifest_digest == m.digest);
    CHECK(stats.blobs_uploaded == 3);
    CHECK(stats.manifests_pushed == 1);
    CHECK(dst.has_manifest("mirror/app", "1.0"));
    auto tag_at = position(dst.log, "manifest mirror/app 1.0");
    for (const auto& b : m.blobs())
        CHECK(position(dst.log, "blob mirror/app " + b.digest.str()) < tag_at);
}

TEST_CASE("a missing blob's upload session is opened while its download starts, not after it") {
    // Issue 14: HEAD, then POST and the source GET at once; before, the GET waited for the POST's answer.
    memory_registry src("src.example"), dst("dst.example");
    auto m = add_image(src, "app", {"layer-one", "layer-two"}, "1.0");
    std::vector<int> gets_at_session;
    dst.on_write = [&](const std::string& entry) {
        if (entry.starts_with("session ")) gets_at_session.push_back(src.blob_gets);
    };
    auto stats =
        run(copy_image(src, image("src.example/app:1.0"), dst, image("dst.example/mirror/app"), {})).value();
    CHECK(stats.blobs_uploaded == 3);
    REQUIRE(gets_at_session.size() == 3);
    // The k-th session opens once at least k downloads have started: each POST went out beside its GET.
    for (std::size_t k = 0; k < gets_at_session.size(); ++k)
        CHECK(gets_at_session[k] >= static_cast<int>(k + 1));
}

TEST_CASE("a second copy writes nothing and fetches no manifest") {
    memory_registry src("src.example"), dst("dst.example");
    add_image(src, "app", {"a", "b"}, "1.0");
    run(copy_image(src, image("src.example/app:1.0"), dst, image("dst.example/app:1.0"), {})).value();
    auto writes = dst.log.size();
    src.manifest_gets = 0;
    auto again =
        run(copy_image(src, image("src.example/app:1.0"), dst, image("dst.example/app:1.0"), {})).value();
    CHECK(again.up_to_date);
    CHECK(dst.log.size() == writes);
    CHECK(src.manifest_gets == 0);
    CHECK(src.blob_gets == 3);
}

TEST_CASE("an index is pushed after its children, shared layers travel once") {
    memory_registry src("src.example"), dst("dst.example");
    auto amd = add_image(src, "multi", {"shared-base", "amd64-only"});
    auto arm = add_image(src, "multi", {"shared-base", "arm64-only"});
    auto index = add_index(src, "multi", {{amd, "linux/amd64"}, {arm, "linux/arm64"}}, "latest");
    auto stats =
        run(copy_image(src, image("src.example/multi:latest"), dst, image("dst.example/multi:latest"), {}))
            .value();
    CHECK(stats.manifest_digest == index.digest);
    CHECK(stats.manifests_pushed == 3);
    auto shared = digest_of("shared-base").str();
    CHECK(std::count(dst.log.begin(), dst.log.end(), "blob multi " + shared) == 1);
    auto index_at = position(dst.log, "manifest multi latest");
    CHECK(position(dst.log, "manifest multi " + amd.digest.str()) < index_at);
    CHECK(position(dst.log, "manifest multi " + arm.digest.str()) < index_at);
}

TEST_CASE("an index's children are read while the first child's blobs are being sent") {
    // Issue 14: children went --jobs at a time, each to the end of its blobs, so with 8 platforms and the
    // default 6 the last two were not even read until a whole child had been sent.
    memory_registry src("src.example"), dst("dst.example");
    std::vector<std::pair<manifest, std::string>> children;
    for (const auto* arch : {"amd64", "arm64", "ppc64le"})
        children.emplace_back(add_image(src, "multi", {std::string("layer-") + arch}),
                              std::string("linux/") + arch);
    add_index(src, "multi", children, "latest");
    dst.yielding_uploads = true;
    std::optional<int> manifests_read_at_first_blob;
    dst.on_write = [&](const std::string& entry) {
        if (entry.starts_with("blob ") && !manifests_read_at_first_blob)
            manifests_read_at_first_blob = src.manifest_gets;
    };
    copy_options options;
    options.jobs = 1;
    auto stats = run(copy_image(src, image("src.example/multi:latest"), dst,
                                image("dst.example/multi:latest"), options))
                     .value();
    CHECK(stats.manifests_pushed == 4);
    REQUIRE(manifests_read_at_first_blob);
    CHECK(*manifests_read_at_first_blob == 4); // the index and its three children
}

TEST_CASE("a platform filter keeps matching children and changes the index digest") {
    memory_registry src("src.example"), dst("dst.example");
    auto amd = add_image(src, "multi", {"base", "amd"});
    auto arm = add_image(src, "multi", {"base", "arm"});
    auto index = add_index(src, "multi", {{amd, "linux/amd64"}, {arm, "linux/arm64"}}, "v1");
    copy_options options;
    options.platforms = {parse_platform("linux/arm64").value()};
    auto stats =
        run(copy_image(src, image("src.example/multi:v1"), dst, image("dst.example/multi:v1"), options))
            .value();
    CHECK(stats.filtered);
    CHECK(stats.manifest_digest != index.digest);
    CHECK(dst.has_manifest("multi", arm.digest.str()));
    CHECK_FALSE(dst.has_manifest("multi", amd.digest.str()));
    CHECK_FALSE(dst.has_blob_in("multi", digest_of("amd")));
}

TEST_CASE("a filtered index is in sync on a rerun: the source index is read, no blob is looked at") {
    memory_registry src("src.example"), dst("dst.example");
    auto amd = add_image(src, "multi", {"base", "amd"});
    auto arm = add_image(src, "multi", {"base", "arm"}, {}, "linux/arm64");
    add_index(src, "multi", {{amd, "linux/amd64"}, {arm, "linux/arm64"}}, "v1");
    copy_options options;
    options.platforms = {parse_platform("linux/arm64").value()};
    auto first =
        run(copy_image(src, image("src.example/multi:v1"), dst, image("dst.example/multi:v1"), options))
            .value();
    auto writes = dst.log.size();
    src.manifest_gets = src.manifest_heads = src.blob_gets = 0;
    dst.manifest_heads = dst.blob_heads = 0;
    auto again =
        run(copy_image(src, image("src.example/multi:v1"), dst, image("dst.example/multi:v1"), options))
            .value();
    CHECK(again.up_to_date);
    CHECK(again.filtered);
    CHECK(again.manifest_digest == first.manifest_digest);
    CHECK(again.manifests_pushed == 0);
    CHECK(dst.log.size() == writes);
    // The filtered index's digest is known only from the source index: one HEAD and one GET at the source,
    // the HEAD of the tag at the destination, and nothing else.
    CHECK(src.manifest_heads == 1);
    CHECK(src.manifest_gets == 1);
    CHECK(src.blob_gets == 0);
    CHECK(dst.manifest_heads == 1);
    CHECK(dst.blob_heads == 0);
}

TEST_CASE("a filter every entry matches leaves the index and its digest as they are") {
    memory_registry src("src.example"), dst("dst.example");
    auto amd = add_image(src, "multi", {"base", "amd"});
    auto arm = add_image(src, "multi", {"base", "arm"}, {}, "linux/arm64");
    auto index = add_index(src, "multi", {{amd, "linux/amd64"}, {arm, "linux/arm64"}}, "v1");
    copy_options options;
    options.platforms = {parse_platform("linux/arm64").value(), parse_platform("linux/amd64").value()};
    auto stats =
        run(copy_image(src, image("src.example/multi:v1"), dst, image("dst.example/multi:v1"), options))
            .value();
    CHECK_FALSE(stats.filtered);
    CHECK(stats.manifest_digest == index.digest);
    CHECK(run(dst.head_manifest("multi", "v1")).value()->digest == index.digest);
}

// issue 10: a no-op rerun with --arch amd64 fetched the source manifest, HEADed every blob at the destination
// and pushed the manifest again, and was reported as copied.
TEST_CASE("a filtered rerun of a matching single-platform image costs two HEADs, as an unfiltered one does") {
    memory_registry src("src.example"), dst("dst.example");
    auto m = add_image(src, "app", {"a", "b"}, "1.0");
    copy_options options;
    options.platforms = {parse_platform("linux/amd64").value()};
    auto first =
        run(copy_image(src, image("src.example/app:1.0"), dst, image("dst.example/app:1.0"), options))
            .value();
    CHECK_FALSE(first.up_to_date);
    CHECK_FALSE(first.filtered);
    CHECK(first.manifest_digest == m.digest);
    CHECK(dst.has_manifest("app", "1.0"));

    auto writes = dst.log.size();
    src.manifest_gets = src.manifest_heads = src.blob_gets = 0;
    dst.manifest_heads = dst.blob_heads = 0;
    auto again =
        run(copy_image(src, image("src.example/app:1.0"), dst, image("dst.example/app:1.0"), options))
            .value();
    CHECK(again.up_to_date);
    CHECK(again.manifests_pushed == 0);
    CHECK(again.manifest_digest == m.digest);
    CHECK(dst.log.size() == writes);
    CHECK(src.manifest_heads == 1);
    CHECK(src.manifest_gets == 0);
    CHECK(src.blob_gets == 0);
    CHECK(dst.manifest_heads == 1);
    CHECK(dst.blob_heads == 0);
}

// issue 10: `copy --platform linux/arm64` of a linux/amd64 image copied it.
TEST_CASE("a single-platform image the filter does not match is not copied; the error names both platforms") {
    memory_registry src("src.example"), dst("dst.example");
    add_image(src, "app", {"a"}, "1.0");
    copy_options options;
    options.platforms = {parse_platform("linux/arm64").value()};
    auto r = run(copy_image(src, image("src.example/app:1.0"), dst, image("dst.example/app:1.0"), options));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::platform_mismatch);
    CHECK_FALSE(r.error().retryable());
    CHECK(r.error().message ==
          "src.example/app:1.0 is a single-platform image for linux/amd64, which the platform filter "
          "(linux/arm64) does not match; nothing to copy");
    CHECK(dst.log.empty());
    CHECK(src.blob_gets == 1); // its config, which names its platform

    // One whose config names no platform (an artifact's `{}`) matches no filter either.
    auto empty = src.add_blob("artifact", "{}");
    src.add_manifest("artifact",
                     fmt::format(R"({{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[]}})",
                                 media_types::oci_manifest,
                                 descriptor_json("application/vnd.oci.image.config.v1+json", empty, 2)),
                     "sbom");
    auto bare = run(copy_image(src, image("src.example/artifact:sbom"), dst,
                               image("dst.example/artifact:sbom"), options));
    REQUIRE_FALSE(bare.has_value());
    CHECK(bare.error().code == errc::platform_mismatch);
    CHECK(bare.error().message.find("names no platform") != std::string::npos);
    CHECK(dst.log.empty());
}

// issue 10: [inner index (amd64, arm64), s390x] filtered to linux/arm64 failed with "no entry ... matches
// ... available: linux/s390x".
TEST_CASE("the platform filter looks into nested indexes and rewrites each level it changes") {
    memory_registry src("src.example"), dst("dst.example");
    auto amd = add_image(src, "nested", {"base", "amd"});
    auto arm = add_image(src, "nested", {"base", "arm"}, {}, "linux/arm64");
    auto s390x = add_image(src, "nested", {"base", "s390x"}, {}, "linux/s390x");
    auto inner = add_index(src, "nested", {{amd, "linux/amd64"}, {arm, "linux/arm64"}}, "");
    auto outer = add_index(src, "nested", {{inner, ""}, {s390x, "linux/s390x"}}, "v1");
    copy_options options;
    options.platforms = {parse_platform("linux/arm64").value()};
    auto stats =
        run(copy_image(src, image("src.example/nested:v1"), dst, image("dst.example/nested:v1"), options))
            .value();
    CHECK(stats.filtered);
    CHECK(stats.manifests_pushed == 3);

    auto top = run(dst.get_manifest("nested", "v1")).value();
    CHECK(top.digest == stats.manifest_digest);
    CHECK(top.digest != outer.digest);
    REQUIRE(top.manifests.size() == 1);
    const auto entry = top.manifests[0];
    CHECK(entry.media_type == inner.media_type);
    CHECK(entry.digest != inner.digest);
    CHECK_FALSE(entry.platform);
    auto nested = run(dst.get_manifest("nested", entry.digest.str())).value();
    CHECK(nested.digest == entry.digest);
    CHECK(entry.size == static_cast<std::int64_t>(nested.bytes.size()));
    REQUIRE(nested.manifests.size() == 1);
    CHECK(nested.manifests[0].digest == arm.digest);
    CHECK(nested.manifests[0].platform->str() == "linux/arm64");

    CHECK(dst.has_manifest("nested", arm.digest.str()));
    for (const auto& other : {amd, s390x, inner})
        CHECK_FALSE(dst.has_manifest("nested", other.digest.str()));
    CHECK_FALSE(dst.has_blob_in("nested", digest_of("amd")));
    CHECK_FALSE(dst.has_blob_in("nested", digest_of("s390x")));
    // Each index after what it lists.
    CHECK(position(dst.log, "manifest nested " + arm.digest.str()) <
          position(dst.log, "manifest nested " + entry.digest.str()));
    CHECK(position(dst.log, "manifest nested " + entry.digest.str()) <
          position(dst.log, "manifest nested v1"));

    // A rerun reads and filters the two indexes again, and that is all.
    auto writes = dst.log.size();
    src.manifest_gets = src.blob_gets = 0;
    dst.blob_heads = 0;
    auto again =
        run(copy_image(src, image("src.example/nested:v1"), dst, image("dst.example/nested:v1"), options))
            .value();
    CHECK(again.up_to_date);
    CHECK(again.manifest_digest == stats.manifest_digest);
    CHECK(dst.log.size() == writes);
    CHECK(src.manifest_gets == 2);
    CHECK(src.blob_gets == 0);
    CHECK(dst.blob_heads == 0);

    // Nothing anywhere in the tree matches: one error listing every platform there is, and nothing written.
    memory_registry empty_dst("dst.example");
    options.platforms = {parse_platform("linux/ppc64le").value()};
    auto none = run(
        copy_image(src, image("src.example/nested:v1"), empty_dst, image("dst.example/nested:v1"), options));
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error().code == errc::platform_mismatch);
    CHECK(none.error().message == "src.example/nested:v1: no entry of index " + outer.digest.str() +
                                      " matches platform(s) linux/ppc64le; available: linux/amd64, "
                                      "linux/arm64, linux/s390x");
    CHECK(empty_dst.log.empty());
}

TEST_CASE("within one registry, blobs are mounted from the source repository") {
    memory_registry reg("one.example");
    auto m = add_image(reg, "team/app", {"x", "y"}, "2.0");
    auto stats =
        run(copy_image(reg, image("one.example/team/app:2.0"), reg, image("one.example/archive/app:2.0"), {}))
            .value();
    CHECK(stats.blobs_mounted == 3);
    CHECK(stats.blobs_uploaded == 0);
    CHECK(position(reg.log, "mount archive/app " + m.config->digest.str()) >= 0);
}

TEST_CASE("a corrupt blob fails the copy and the tag is never written") {
    memory_registry src("src.example"), dst("dst.example");
    add_image(src, "app", {"good", "bad"}, "1.0");
    src.corrupt.insert(digest_of("bad"));
    copy_options options;
    options.retry.max_attempts = 2;
    auto r = run(copy_image(src, image("src.example/app:1.0"), dst, image("dst.example/app:1.0"), options));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("src.example/app:1.0") != std::string::npos);
    CHECK_FALSE(dst.has_manifest("app", "1.0"));
}

TEST_CASE(
    "a blob transfer is tried retry.max_attempts times in all, sharing the budget of the failed request") {
    auto failure = [](errc code, int attempts) {
        auto e = make_error(code, "injected");
        e.attempts = attempts;
        return e;
    };
    const auto reset = failure(errc::connection_failed, 1); // a streamed upload broken off: sent once
    struct row {
        const char* name;
        int max_attempts;
        std::deque<error> failures;
        bool copied;
        int tries;
    };
    const std::vector<row> rows{
        {"a reset is tried again", 3, {reset, reset}, true, 3},
        {"until the tries are used up", 3, {reset, reset, reset, reset}, false, 3},
        {"one try when max_attempts is 1", 1, {reset}, false, 1},
        {"a failure whose request used the budget is final", 4, {failure(errc::server_error, 4)}, false, 1},
        {"a refused one-shot upload gets one more try, even past the budget",
         1,
         {failure(errc::unsupported, 1)},
         true,
         2},
        {"but only one", 4, {failure(errc::unsupported, 1), failure(errc::unsupported, 1)}, false, 2},
        {"a rejected token gets one more try too", 1, {failure(errc::unauthorized, 1)}, true, 2},
        {"a digest the registry rejects is final", 4, {failure(errc::digest_invalid, 1)}, false, 1},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        memory_registry src("src.example"), dst("dst.example");
        add_image(src, "app", {"layer"}, "1.0");
        dst.failing_uploads[digest_of("layer")] = r.failures;
        copy_options options;
        options.retry.max_attempts = r.max_attempts;
        auto copied =
            run(copy_image(src, image("src.example/app:1.0"), dst, image("dst.example/app:1.0"), options));
        CHECK(copied.has_value() == r.copied);
        CHECK(dst.uploads_tried[digest_of("layer")] == r.tries);
        CHECK(dst.has_manifest("app", "1.0") == r.copied);
    }
}

TEST_CASE("a missing source tag is reported with the image name") {
    memory_registry src("src.example"), dst("dst.example");
    add_image(src, "app", {"a"}, "1.0");
    auto r = run(copy_image(src, image("src.example/app:nope"), dst, image("dst.example/app"), {}));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::manifest_unknown);
    CHECK(r.error().message.find("src.example/app:nope not found") != std::string::npos);
}

TEST_CASE("a source by digest goes to a destination tag, and a wrong destination digest is refused") {
    memory_registry src("src.example"), dst("dst.example");
    auto m = add_image(src, "app", {"a"}, "1.0");
    auto by_digest = image("src.example/app@" + m.digest.str());
    auto stats = run(copy_image(src, by_digest, dst, image("dst.example/app:pinned"), {})).value();
    CHECK(stats.manifest_digest == m.digest);
    CHECK(dst.has_manifest("app", "pinned"));
    auto other = digest_of("something else");
    auto r = run(copy_image(src, by_digest, dst, image("dst.example/app@" + other.str()), {}));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_argument);
}

TEST_CASE("one download feeds destinations on several registries; same-registry targets mount") {
    memory_registry src("src.example"), east("east.example"), west("west.example");
    auto m = add_image(src, "app", {"big-layer", "small-layer"}, "1.0");
    std::vector<copy_target> targets{{&east, image("east.example/app:1.0"), {}},
                                     {&west, image("west.example/app:1.0"), {}},
                                     {&east, image("east.example/copy/app:1.0"), {}}};
    auto results = run(copy_image_to_many(src, image("src.example/app:1.0"), targets, {}));
    REQUIRE(results.size() == 3);
    for (auto& r : results) {
        REQUIRE(r.has_value());
        CHECK(r->manifest_digest == m.digest);
    }
    CHECK(src.blob_gets == 3); // config and two layers, each read once for both registries
    CHECK(src.manifest_gets == 1);
    CHECK(results[0]->blobs_uploaded == 3);
    CHECK(results[1]->blobs_uploaded == 3);
    CHECK(results[2]->blobs_mounted == 3);
    CHECK(east.has_manifest("app", "1.0"));
    CHECK(east.has_manifest("copy/app", "1.0"));
    CHECK(west.has_manifest("app", "1.0"));
}

TEST_CASE("a fan-out lane that fails retries alone and the others are unaffected") {
    memory_registry src("src.example"), east("east.example"), west("west.example");
    add_image(src, "app", {"layer"}, "1.0");
    src.corrupt.insert(digest_of("layer"));
    copy_options options;
    options.retry.max_attempts = 1;
    std::vector<copy_target> targets{{&east, image("east.example/app:1.0"), {}},
                                     {&west, image("west.example/app:1.0"), {}}};
    auto results = run(copy_image_to_many(src, image("src.example/app:1.0"), targets, options));
    REQUIRE(results.size() == 2);
    CHECK_FALSE(results[0].has_value());
    CHECK_FALSE(results[1].has_value());
    CHECK_FALSE(east.has_manifest("app", "1.0"));
    CHECK_FALSE(west.has_manifest("app", "1.0"));
}

TEST_CASE("a Docker schema 1 manifest is copied unchanged, with its layers") {
    memory_registry src("src.example"), dst("dst.example");
    auto a = src.add_blob("old", "schema1-layer-a");
    auto b = src.add_blob("old", "schema1-layer-b");
    auto bytes = fmt::format(R"({{
   "schemaVersion": 1,
   "name": "old",
   "tag": "v1",
   "architecture": "amd64",
   "fsLayers": [{{"blobSum": "{}"}}, {{"blobSum": "{}"}}, {{"blobSum": "{}"}}],
   "history": [{{"v1Compatibility": "{{}}"}}, {{"v1Compatibility": "{{}}"}}, {{"v1Compatibility": "{{}}"}}]
}})",
                             a.str(), b.str(), a.str());
    auto m = src.add_manifest("old", bytes, "v1");
    REQUIRE(m.kind == manifest_kind::schema1);
    std::vector<copy_event> events;
    copy_options options;
    options.on_event = [&](const copy_event& e) { events.push_back(e); };
    auto stats =
        run(copy_image(src, image("src.example/old:v1"), dst, image("dst.example/old:v1"), options)).value();
    CHECK(stats.manifest_digest == m.digest);
    CHECK(stats.blobs_uploaded == 2);
    // Schema 1 gives no layer sizes; the bytes sent are counted (before: "0 B sent").
    CHECK(stats.bytes_sent == std::string_view("schema1-layer-a").size() * 2);
    for (const auto& e : events)
        if (e.what == copy_event::kind::blob_done) CHECK(e.bytes == 15);
    auto copied = run(dst.get_manifest("old", "v1")).value();
    CHECK(copied.bytes == bytes);
}

TEST_CASE("a stop after a child of an index is pushed leaves the index and its tag unwritten") {
    memory_registry src("src.example"), dst("dst.example");
    auto amd = add_image(src, "multi", {"shared-base", "amd64-only"});
    auto arm = add_image(src, "multi", {"shared-base", "arm64-only"});
    add_index(src, "multi", {{amd, "linux/amd64"}, {arm, "linux/arm64"}}, "latest");
    std::stop_source stop;
    dst.on_write = [&](const std::string& entry) {
        if (entry.starts_with("manifest ")) stop.request_stop();
    };
    copy_options options;
    options.jobs = 1; // one child at a time
    options.stop = stop.get_token();
    auto r = run(
        copy_image(src, image("src.example/multi:latest"), dst, image("dst.example/multi:latest"), options));
    REQUIRE(r.has_error());
    CHECK(r.error().code == errc::cancelled);
    CHECK(r.error().message.find("stopped before") != std::string::npos);
    CHECK_FALSE(dst.has_manifest("multi", "latest"));
    // The finished child stays, unreferenced, for the next run to find.
    auto manifests = std::count_if(dst.log.begin(), dst.log.end(),
                                   [](const std::string& l) { return l.starts_with("manifest "); });
    CHECK(manifests == 1);

    auto resumed =
        run(copy_image(src, image("src.example/multi:latest"), dst, image("dst.example/multi:latest"), {}))
            .value();
    CHECK(dst.has_manifest("multi", "latest"));
    CHECK(resumed.manifests_pushed == 2); // the other child and the index
}

TEST_CASE("a stop once every blob is in place still pushes no manifest") {
    memory_registry src("src.example"), dst("dst.example");
    add_image(src, "app", {"l1", "l2"}, "1.0");
    std::stop_source stop;
    int blobs = 0;
    dst.on_write = [&](const std::string& entry) {
        if (entry.starts_with("blob ") && ++blobs == 3) stop.request_stop(); // config + two layers
    };
    copy_options options;
    options.stop = stop.get_token();
    auto r = run(copy_image(src, image("src.example/app:1.0"), dst, image("dst.example/app:1.0"), options));
    REQUIRE(r.has_error());
    CHECK(r.error().code == errc::cancelled);
    CHECK(r.error().message.find("stopped before pushing manifest") != std::string::npos);
    CHECK(blobs == 3);
    CHECK_FALSE(dst.has_manifest("app", "1.0"));
}
