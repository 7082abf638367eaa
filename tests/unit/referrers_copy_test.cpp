// Referrers travelling with their images (sync/referrers_copy.hpp, sync/referrer_policy.hpp), against
// memory registries in both roles, with the referrers API and without it (docker-registry's tag schema).
#include "memory_registry.hpp"

#include <libregistry/sync/copy.hpp>
#include <libregistry/sync/referrer_policy.hpp>
#include <libregistry/sync/referrers_copy.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <set>

using namespace libregistry;
using libregistry::testing::memory_registry;
namespace asio = boost::asio;

namespace {

const std::string sig_type = "application/vnd.dev.cosign.artifact.sig.v1+json";
const std::string spdx = "application/spdx+json";
const std::string simplesigning = "application/vnd.dev.cosign.simplesigning.v1+json";

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

std::string descriptor_json(std::string_view media_type, const digest& d, std::size_t size) {
    return fmt::format(R"({{"mediaType":"{}","digest":"{}","size":{}}})", media_type, d.str(), size);
}

manifest add_image(memory_registry& reg, const std::string& repo, const std::string& layer,
                   const std::string& tag = {}, const std::string& os_arch = "linux/amd64") {
    const auto slash = os_arch.find('/');
    const auto config = fmt::format(R"({{"architecture":"{}","os":"{}","layer":"{}"}})",
                                    os_arch.substr(slash + 1), os_arch.substr(0, slash), layer);
    const auto config_digest = reg.add_blob(repo, config);
    const auto layer_digest = reg.add_blob(repo, layer);
    return reg.add_manifest(
        repo,
        fmt::format(
            R"({{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[{}]}})", media_types::oci_manifest,
            descriptor_json("application/vnd.oci.image.config.v1+json", config_digest, config.size()),
            descriptor_json("application/vnd.oci.image.layer.v1.tar+gzip", layer_digest, layer.size())),
        tag);
}

manifest add_index(memory_registry& reg, const std::string& repo, const manifest& amd64,
                   const manifest& arm64, const std::string& tag) {
    const auto entry = [](const manifest& m, std::string_view arch) {
        return fmt::format(
            R"({{"mediaType":"{}","digest":"{}","size":{},"platform":{{"os":"linux","architecture":"{}"}}}})",
            m.media_type, m.digest.str(), m.bytes.size(), arch);
    };
    return reg.add_manifest(repo,
                            fmt::format(R"({{"schemaVersion":2,"mediaType":"{}","manifests":[{},{}]}})",
                                        media_types::oci_index, entry(amd64, "amd64"), entry(arm64, "arm64")),
                            tag);
}

// An OCI 1.1 artifact referring to `subject` (empty config, one layer); `store_layer` false leaves its
// layer out of the registry.
manifest add_artifact(memory_registry& reg, const std::string& repo, const manifest& subject,
                      const std::string& artifact_type, const std::string& payload, bool store_layer = true) {
    const auto empty = reg.add_blob(repo, "{}");
    const auto layer = store_layer ? reg.add_blob(repo, payload) : digest_of(payload);
    return reg.add_manifest(
        repo,
        fmt::format(R"({{"schemaVersion":2,"mediaType":"{}","artifactType":"{}","config":{},)"
                    R"("layers":[{}],"subject":{},"annotations":{{"payload":"{}"}}}})",
                    media_types::oci_manifest, artifact_type,
                    descriptor_json("application/vnd.oci.empty.v1+json", empty, 2),
                    descriptor_json(artifact_type == spdx ? spdx : simplesigning, layer, payload.size()),
                    descriptor_json(subject.media_type, subject.digest, subject.bytes.size()), payload));
}

// A cosign-style signature (no subject: found by its tag `sha256-<hex>.sig` only).
manifest add_cosign_signature(memory_registry& reg, const std::string& repo, const digest& subject,
                              const std::string& payload) {
    const std::string config = R"({"architecture":"","os":""})";
    const auto config_digest = reg.add_blob(repo, config);
    const auto layer = reg.add_blob(repo, payload);
    return reg.add_manifest(
        repo,
        fmt::format(R"({{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[{}]}})",
                    media_types::oci_manifest,
                    descriptor_json("application/vnd.oci.image.config.v1+json", config_digest, config.size()),
                    descriptor_json(simplesigning, layer, payload.size())),
        cosign_tag(subject, "sig"));
}

// The tag schema's index for `subject`, as a client of a registry without the API keeps it.
void add_tag_schema(memory_registry& reg, const std::string& repo, const digest& subject,
                    const std::vector<manifest>& referrers) {
    std::vector<descriptor> list;
    for (const auto& m : referrers)
        list.push_back(referrer_descriptor(m));
    reg.add_manifest(repo, referrers_index(list).bytes, referrers_tag(subject));
}

// An image with a signature and an SBOM, and a signature of the SBOM.
struct signed_image {
    manifest image, sig, sbom, sbom_sig;
};

signed_image seed(memory_registry& reg, bool api) {
    reg.referrers_api = api;
    signed_image w;
    w.image = add_image(reg, "app", "layer-1", "1.0");
    w.sig = add_artifact(reg, "app", w.image, sig_type, "signature of the image");
    w.sbom = add_artifact(reg, "app", w.image, spdx, "sbom of the image");
    w.sbom_sig = add_artifact(reg, "app", w.sbom, sig_type, "signature of the sbom");
    if (!api) {
        add_tag_schema(reg, "app", w.image.digest, {w.sig, w.sbom});
        add_tag_schema(reg, "app", w.sbom.digest, {w.sbom_sig});
    }
    return w;
}

reference image(const std::string& text) {
    return parse_reference(text).value();
}

std::set<digest> digests(const std::vector<referrer_node>& nodes, int depth) {
    std::set<digest> out;
    for (const auto& n : nodes)
        if (n.depth == depth) out.insert(n.desc.digest);
    return out;
}

std::ptrdiff_t position(const std::vector<std::string>& log, const std::string& entry) {
    auto it = std::find(log.begin(), log.end(), entry);
    REQUIRE_MESSAGE(it != log.end(), "missing log entry: " << entry);
    return it - log.begin();
}

bool mentions(const std::vector<std::string>& notes, std::string_view words) {
    return std::any_of(notes.begin(), notes.end(),
                       [&](const std::string& n) { return n.find(words) != std::string::npos; });
}

referrers_stats copy_with_referrers(memory_registry& src, memory_registry& dst, referrers_context& context,
                                    copy_options options = {}) {
    options.referrers = &context;
    auto r = run(copy_image(src, image("src.example/app:1.0"), dst, image("dst.example/app:1.0"), options));
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    return r->referrers;
}

} // namespace

TEST_CASE("referrer_policy: literal and /regex/ types, include then exclude; patterns checked") {
    referrer_policy all;
    CHECK(referrer_selected(all, {spdx}));
    referrer_policy off;
    off.enabled = false;
    CHECK_FALSE(referrer_selected(off, {spdx}));

    referrer_policy signatures;
    signatures.include_types = {"/cosign/", "application/vnd.in-toto+json"};
    CHECK(referrer_selected(signatures, {sig_type}));
    CHECK(referrer_selected(signatures, {"application/vnd.in-toto+json"}));
    CHECK_FALSE(referrer_selected(signatures, {spdx}));
    // Any of a cosign manifest's types (its layers' too) may match.
    CHECK(referrer_selected(signatures, {"application/vnd.oci.image.config.v1+json", simplesigning}));

    referrer_policy no_sbom;
    no_sbom.exclude_types = {"/spdx|cyclonedx/"};
    CHECK(referrer_selected(no_sbom, {sig_type}));
    CHECK_FALSE(referrer_selected(no_sbom, {spdx}));
    CHECK_FALSE(referrer_selected(no_sbom, {"application/vnd.cyclonedx+json"}));

    CHECK(check_referrer_policy(signatures, "rule 1").has_value());
    struct bad_row {
        referrer_policy policy;
        std::string words;
    };
    referrer_policy bad_regex;
    bad_regex.include_types = {"/(unclosed/"};
    referrer_policy empty_type;
    empty_type.exclude_types = {""};
    referrer_policy no_depth;
    no_depth.max_depth = 0;
    referrer_policy no_count;
    no_count.max_referrers = 0;
    for (const auto& [policy, words] : std::vector<bad_row>{{bad_regex, "\"/(unclosed/\" in the referrers' "
                                                                        "include list: invalid regex"},
                                                            {empty_type, "an empty artifact type"},
                                                            {no_depth, "max depth 0 follows nothing"},
                                                            {no_count, "max count 0 carries nothing"}}) {
        auto checked = check_referrer_policy(policy, "sync.yaml rule 2");
        REQUIRE(checked.has_error());
        CHECK(checked.error().code == errc::invalid_argument);
        CHECK_MESSAGE(checked.error().message.starts_with("sync.yaml rule 2: "), checked.error().message);
        CHECK_MESSAGE(checked.error().message.find(words) != std::string::npos, checked.error().message);
    }
}

TEST_CASE("discover_referrers: the API, recursively (a signature of the SBOM is found under the SBOM)") {
    memory_registry src("src.example");
    const auto w = seed(src, true);
    referrers_context context;
    auto found = run(discover_referrers(src, "app", {w.image.digest}, context)).value();
    REQUIRE(found.nodes.size() == 3);
    CHECK(digests(found.nodes, 1) == std::set<digest>{w.sig.digest, w.sbom.digest});
    CHECK(digests(found.nodes, 2) == std::set<digest>{w.sbom_sig.digest});
    CHECK(found.nodes.back().subject == w.sbom.digest);
    for (const auto& n : found.nodes)
        CHECK(n.via == referrer_via::api);
    const auto& sbom = *std::find_if(found.nodes.begin(), found.nodes.end(),
                                     [&](const referrer_node& n) { return n.desc.digest == w.sbom.digest; });
    CHECK(sbom.desc.artifact_type == spdx);
    CHECK(sbom.desc.annotations.at("payload") == "sbom of the image");
    CHECK(sbom.desc.size == static_cast<std::int64_t>(w.sbom.bytes.size()));
    CHECK(found.excluded == 0);
    CHECK(found.too_deep == 0);
    // Every node is a subject in turn: the image and its three referrers, one listing each.
    CHECK(src.referrers_calls == 4);
    CHECK(src.list_calls == 1);
    CHECK_FALSE(context.api_absent("src.example"));
}

TEST_CASE("discover_referrers: the tag schema; once the API is known absent, digests without a tag cost "
          "nothing") {
    memory_registry src("src.example");
    const auto w = seed(src, false);
    referrers_context context;
    auto found = run(discover_referrers(src, "app", {w.image.digest}, context)).value();
    REQUIRE(found.nodes.size() == 3);
    CHECK(digests(found.nodes, 1) == std::set<digest>{w.sig.digest, w.sbom.digest});
    CHECK(digests(found.nodes, 2) == std::set<digest>{w.sbom_sig.digest});
    for (const auto& n : found.nodes)
        CHECK(n.via == referrer_via::tag_schema);
    CHECK(context.api_absent("src.example"));
    // The image (not yet known to lack the API) and the SBOM (its tag is listed); the two signatures have no
    // tag of their own and are not asked about.
    CHECK(src.referrers_calls == 2);

    // A later image of the same run: no tag schema tag, no request at all.
    const auto plain = add_image(src, "app", "layer-2");
    context.set_tags("src.example", "app", run(src.list_tags("app")).value());
    auto none = run(discover_referrers(src, "app", {plain.digest}, context)).value();
    CHECK(none.nodes.empty());
    CHECK(src.referrers_calls == 2);
}

TEST_CASE("discover_referrers: cosign tags, with one HEAD each; a type filter reads their layers") {
    memory_registry src("src.example");
    const auto subject = add_image(src, "app", "layer-1", "1.0");
    const auto sig = add_cosign_signature(src, "app", subject.digest, "cosign payload");
    {
        referrers_context context;
        const int heads = src.manifest_heads;
        auto found = run(discover_referrers(src, "app", {subject.digest}, context)).value();
        REQUIRE(found.nodes.size() == 1);
        CHECK(found.nodes[0].via == referrer_via::cosign_tag);
        CHECK(found.nodes[0].tag == cosign_tag(subject.digest, "sig"));
        CHECK(found.nodes[0].desc.digest == sig.digest);
        CHECK(found.nodes[0].desc.size == static_cast<std::int64_t>(sig.bytes.size()));
        CHECK(found.nodes[0].desc.media_type == media_types::oci_manifest);
        CHECK(src.manifest_heads == heads + 1);
        CHECK(src.manifest_gets == 0);
    }
    referrer_policy signatures;
    signatures.include_types = {"/simplesigning/"};
    referrers_context only_signatures(signatures);
    CHECK(run(discover_referrers(src, "app", {subject.digest}, only_signatures)).value().nodes.size() == 1);
    CHECK(src.manifest_gets == 1);
    referrer_policy no_signatures;
    no_signatures.exclude_types = {simplesigning};
    referrers_context without(no_signatures);
    auto excluded = run(discover_referrers(src, "app", {subject.digest}, without)).value();
    CHECK(excluded.nodes.empty());
    CHECK(excluded.excluded == 1);
}

TEST_CASE("discover_referrers: the depth bound, a cycle of cosign tags, and the count bound") {
    memory_registry src("src.example");
    const auto w = seed(src, true);
    referrer_policy shallow;
    shallow.max_depth = 1;
    referrers_context one_level(shallow);
    auto found = run(discover_referrers(src, "app", {w.image.digest}, one_level)).value();
    CHECK(found.nodes.size() == 2);
    CHECK(found.too_deep == 1);
    CHECK(mentions(found.notes, "1 referrer(s) in src.example/app deeper than 1 level(s) not carried"));

    // The signature's own cosign tag points back at the image: walked once, and said so.
    src.add_manifest("app", w.image.bytes, cosign_tag(w.sig.digest, "sig"));
    referrers_context context;
    auto cycle = run(discover_referrers(src, "app", {w.image.digest}, context)).value();
    CHECK(cycle.nodes.size() == 3);
    CHECK(mentions(cycle.notes, w.image.digest.str() + ", a referrer of " + w.sig.digest.str() +
                                    ", was found before (a cycle"));

    referrer_policy few;
    few.max_referrers = 2;
    referrers_context bounded(few);
    auto refused = run(discover_referrers(src, "app", {w.image.digest}, bounded));
    REQUIRE(refused.has_error());
    CHECK(refused.error().code == errc::too_large);
    CHECK_MESSAGE(refused.error().message.find("src.example/app@" + w.image.digest.str() +
                                               " has more than 2 referrers") != std::string::npos,
                  refused.error().message);
}

TEST_CASE("discover_referrers: include and exclude by /regex/; what is left out is not walked") {
    memory_registry src("src.example");
    const auto w = seed(src, true);
    referrer_policy sboms;
    sboms.include_types = {"/spdx/"};
    referrers_context context(sboms);
    auto found = run(discover_referrers(src, "app", {w.image.digest}, context)).value();
    REQUIRE(found.nodes.size() == 1);
    CHECK(found.nodes[0].desc.digest == w.sbom.digest);
    CHECK(found.excluded == 2); // the image's signature, and the SBOM's

    referrer_policy no_signatures;
    no_signatures.exclude_types = {"/cosign\\.artifact\\.sig/"};
    referrers_context without(no_signatures);
    auto rest = run(discover_referrers(src, "app", {w.image.digest}, without)).value();
    REQUIRE(rest.nodes.size() == 1);
    CHECK(rest.nodes[0].desc.digest == w.sbom.digest);
}

TEST_CASE("copy with referrers, to a registry with the API: after the image, blobs before each referrer; a "
          "second copy writes nothing") {
    memory_registry src("src.example"), dst("dst.example");
    const auto w = seed(src, true);
    referrers_context context;
    copy_options options;
    options.referrers = &context;
    auto stats =
        run(copy_image(src, image("src.example/app:1.0"), dst, image("dst.example/app:1.0"), options))
            .value();
    CHECK(stats.manifests_pushed == 1);
    const auto& r = stats.referrers;
    CHECK(r.found == 3);
    CHECK(r.copied == 3);
    CHECK(r.present == 0);
    CHECK(r.fallback_updates == 0); // the destination answered OCI-Subject
    CHECK(r.bytes_sent > 0);
    // The referrers' bytes are theirs: the image's own count is what a copy without referrers sends.
    memory_registry plain("plain.example");
    auto without =
        run(copy_image(src, image("src.example/app:1.0"), plain, image("plain.example/app:1.0"), {}));
    CHECK(stats.bytes_sent == without.value().bytes_sent);

    const auto image_at = position(dst.log, "manifest app 1.0");
    for (const auto* m : {&w.sig, &w.sbom, &w.sbom_sig}) {
        const auto at = position(dst.log, "manifest app " + m->digest.str());
        CHECK(at > image_at);
        for (const auto& b : m->blobs())
            if (dst.log.end() != std::find(dst.log.begin(), dst.log.end(), "blob app " + b.digest.str()))
                CHECK(position(dst.log, "blob app " + b.digest.str()) < at);
    }
    CHECK(position(dst.log, "manifest app " + w.sbom.digest.str()) <
          position(dst.log, "manifest app " + w.sbom_sig.digest.str()));
    CHECK(dst.has_blob_in("app", w.sbom.layers[0].digest));

    // A no-op: the image HEAD on each side, one listing per subject at the source (the image and its three
    // referrers), one per subject that has referrers at the destination (the image, the SBOM); no GET.
    const auto log_size = dst.log.size();
    const int src_heads = src.manifest_heads, src_gets = src.manifest_gets, src_lists = src.referrers_calls;
    const int dst_heads = dst.manifest_heads, dst_gets = dst.manifest_gets, dst_lists = dst.referrers_calls;
    const auto again = copy_with_referrers(src, dst, context);
    CHECK(dst.log.size() == log_size);
    CHECK(again.found == 3);
    CHECK(again.present == 3);
    CHECK(again.copied == 0);
    CHECK(src.manifest_heads - src_heads == 1);
    CHECK(src.manifest_gets - src_gets == 0);
    CHECK(src.referrers_calls - src_lists == 4);
    CHECK(dst.manifest_heads - dst_heads == 1);
    CHECK(dst.manifest_gets - dst_gets == 0);
    CHECK(dst.referrers_calls - dst_lists == 2);
    CHECK(src.list_calls == 1); // the tag list, once per run
}

TEST_CASE("copy with referrers, to a registry without the API: the fallback index is written after its "
          "referrers, keeps what it held, and a second copy writes nothing") {
    for (const bool source_api : {true, false}) {
        CAPTURE(source_api);
        memory_registry src("src.example"), dst("dst.example");
        const auto w = seed(src, source_api);
        dst.referrers_api = false;
        // The destination's index already lists an artifact another writer put there.
        const auto theirs = add_image(dst, "app", "someone else's");
        std::vector<descriptor> their_list{referrer_descriptor(theirs)};
        dst.add_manifest("app", referrers_index(their_list).bytes, referrers_tag(w.image.digest));

        referrers_context context;
        const auto r = copy_with_referrers(src, dst, context);
        CHECK(r.copied == 3);
        CHECK(r.fallback_updates == 2); // the image's index and the SBOM's
        const auto index_at = position(dst.log, "manifest app " + referrers_tag(w.image.digest));
        CHECK(position(dst.log, "manifest app " + w.sig.digest.str()) < index_at);
        CHECK(position(dst.log, "manifest app " + w.sbom.digest.str()) < index_at);
        CHECK(position(dst.log, "manifest app " + w.sbom_sig.digest.str()) <
              position(dst.log, "manifest app " + referrers_tag(w.sbom.digest)));
        CHECK(std::count(dst.log.begin(), dst.log.end(), "manifest app " + referrers_tag(w.image.digest)) ==
              1);

        auto listed = run(dst.list_referrers("app", w.image.digest, std::nullopt)).value();
        CHECK(listed.source == referrers_source::tag_schema);
        REQUIRE(listed.descriptors.size() == 3);
        CHECK(listed.descriptors[0].digest == theirs.digest); // kept, first, as it was
        std::set<digest> ours{listed.descriptors[1].digest, listed.descriptors[2].digest};
        CHECK(ours == std::set<digest>{w.sig.digest, w.sbom.digest});
        for (const auto& d : listed.descriptors)
            if (d.digest == w.sbom.digest) CHECK(d.artifact_type == spdx);

        const auto log_size = dst.log.size();
        const int dst_gets = dst.manifest_gets, dst_heads = dst.manifest_heads,
                  dst_lists = dst.referrers_calls;
        const auto again = copy_with_referrers(src, dst, context);
        CHECK(dst.log.size() == log_size);
        CHECK(again.present == 3);
        CHECK(again.fallback_updates == 0);
        CHECK(dst.manifest_gets - dst_gets == 0);
        CHECK(dst.manifest_heads - dst_heads == 1);
        CHECK(dst.referrers_calls - dst_lists == 2);
    }
}

TEST_CASE("a signature added later to an unchanged image is carried by the next copy") {
    memory_registry src("src.example"), dst("dst.example");
    const auto subject = add_image(src, "app", "layer-1", "1.0");
    referrers_context first;
    CHECK(copy_with_referrers(src, dst, first).found == 0);
    const auto sig = add_artifact(src, "app", subject, sig_type, "signed later");
    const auto cosign = add_cosign_signature(src, "app", subject.digest, "cosign, later");
    referrers_context second;
    const auto r = copy_with_referrers(src, dst, second);
    CHECK(r.found == 2);
    CHECK(r.copied == 2);
    CHECK(dst.has_manifest("app", sig.digest.str()));
    CHECK(dst.has_manifest("app", cosign.digest.str()));
    CHECK(position(dst.log, "manifest app " + cosign_tag(subject.digest, "sig")) >
          position(dst.log, "manifest app 1.0"));
}

TEST_CASE("a platform-filtered index: the kept child's referrers travel, the index's own cannot") {
    memory_registry src("src.example"), dst("dst.example");
    const auto amd64 = add_image(src, "app", "amd64 layer", {}, "linux/amd64");
    const auto arm64 = add_image(src, "app", "arm64 layer", {}, "linux/arm64");
    const auto index = add_index(src, "app", amd64, arm64, "1.0");
    const auto index_sig = add_artifact(src, "app", index, sig_type, "signature of the index");
    const auto amd64_sbom = add_artifact(src, "app", amd64, spdx, "sbom of amd64");
    const auto arm64_sbom = add_artifact(src, "app", arm64, spdx, "sbom of arm64");
    referrers_context context;
    copy_options options;
    options.platforms = {parse_platform("linux/amd64").value()};
    options.referrers = &context;
    auto stats =
        run(copy_image(src, image("src.example/app:1.0"), dst, image("dst.example/app:1.0"), options))
            .value();
    CHECK(stats.filtered);
    CHECK(stats.referrers.found == 1);
    CHECK(stats.referrers.copied == 1);
    CHECK(stats.referrers.not_carried == 1);
    CHECK(dst.has_manifest("app", amd64_sbom.digest.str()));
    CHECK_FALSE(dst.has_manifest("app", index_sig.digest.str()));
    CHECK_FALSE(dst.has_manifest("app", arm64_sbom.digest.str()));
    CHECK(mentions(stats.referrers.notes, "1 referrer(s) of the index " + index.digest.str() +
                                              " not carried: the platform filter rewrote it as " +
                                              stats.manifest_digest.str()));
}

TEST_CASE("copy_image_to_many carries the referrers to every destination, each with its own stats") {
    memory_registry src("src.example"), api("api.example"), tags("tags.example");
    const auto w = seed(src, true);
    tags.referrers_api = false;
    api.add_manifest("app", w.sig.bytes); // listed there already: not copied again
    referrers_context context;
    copy_options options;
    options.referrers = &context;
    std::vector<copy_target> targets{copy_target{&api, image("api.example/app:1.0"), {}},
                                     copy_target{&tags, image("tags.example/app:1.0"), {}}};
    auto results = run(copy_image_to_many(src, image("src.example/app:1.0"), targets, options));
    REQUIRE(results.size() == 2);
    REQUIRE_MESSAGE(results[0].has_value(), results[0].error().message);
    REQUIRE_MESSAGE(results[1].has_value(), results[1].error().message);
    CHECK(results[0]->referrers.present == 1);
    CHECK(results[0]->referrers.copied == 2);
    CHECK(results[0]->referrers.fallback_updates == 0);
    CHECK(results[1]->referrers.copied == 3);
    CHECK(results[1]->referrers.fallback_updates == 2);
    CHECK(tags.has_manifest("app", w.sbom_sig.digest.str()));
}

TEST_CASE("a referrer whose blob is missing at the source fails the target, saying the image is in place") {
    memory_registry src("src.example"), dst("dst.example");
    const auto subject = add_image(src, "app", "layer-1", "1.0");
    const auto broken = add_artifact(src, "app", subject, spdx, "a layer nobody stored", false);
    referrers_context context;
    copy_options options;
    options.referrers = &context;
    auto r = run(copy_image(src, image("src.example/app:1.0"), dst, image("dst.example/app:1.0"), options));
    REQUIRE(r.has_error());
    const auto& message = r.error().message;
    CAPTURE(message);
    CHECK(message.starts_with("copied " + subject.digest.str() + ", but carrying its referrers failed: "));
    CHECK(message.find("referrer " + broken.digest.str() + " (application/spdx+json) of " +
                       subject.digest.str()) != std::string::npos);
    CHECK(dst.has_manifest("app", "1.0"));
    CHECK_FALSE(dst.has_manifest("app", broken.digest.str()));
}
