// What carrying referrers came to, as one phrase and as report fields, and the tree `syncer referrers` prints
// (text and JSON), with registry text escaped.
#include "output/referrers_output.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace libregistry;
using namespace syncer;

namespace {

digest digest_of(char c) {
    return *digest::parse("sha256:" + std::string(64, c));
}

referrer_node node(char self, char subject, std::string artifact_type, referrer_via via, int depth,
                   std::string tag = {}) {
    referrer_node n;
    n.desc.media_type = "application/vnd.oci.image.manifest.v1+json";
    n.desc.digest = digest_of(self);
    n.desc.size = 1536;
    n.desc.artifact_type = std::move(artifact_type);
    n.subject = digest_of(subject);
    n.via = via;
    n.tag = std::move(tag);
    n.depth = depth;
    return n;
}

const std::string sig_type = "application/vnd.dev.cosign.artifact.sig.v1+json";
const std::string sbom_type = "application/spdx+json";
const std::string intoto_type = "application/vnd.in-toto+json";

/// An index `a` with children `b` (linux/amd64) and `c` (linux/arm64): `a` has a signature `d` (with an
/// annotation holding a line break and an escape sequence, as a hostile registry might send) and an SBOM `e`
/// with its own signature `1` (a cosign tag); `b` has an attestation `f`; `c` has none.
referrers_tree index_tree() {
    referrers_tree tree;
    tree.image = "registry.example/org/app:1.0";
    tree.digest = digest_of('a');
    tree.media_type = "application/vnd.oci.image.index.v1+json";
    for (const auto& [c, arch] : {std::pair{'b', "amd64"}, std::pair{'c', "arm64"}}) {
        descriptor child;
        child.media_type = "application/vnd.oci.image.manifest.v1+json";
        child.digest = digest_of(c);
        child.size = 500;
        child.platform = platform{"linux", arch, "", ""};
        tree.children.push_back(child);
    }
    auto signature = node('d', 'a', sig_type, referrer_via::api, 1);
    signature.desc.annotations["dev.cosignproject.cosign/signature"] = "MEUCIQ\n\x1b[31mforged";
    tree.discovery.nodes.push_back(signature);
    tree.discovery.nodes.push_back(node('e', 'a', sbom_type, referrer_via::tag_schema, 1));
    tree.discovery.nodes.push_back(node('f', 'b', intoto_type, referrer_via::api, 1));
    tree.discovery.nodes.push_back(
        node('1', 'e', sig_type, referrer_via::cosign_tag, 2, "sha256-" + std::string(64, 'e') + ".sig"));
    tree.discovery.excluded = 2;
    return tree;
}

} // namespace

TEST_CASE("referrers_outcome: the counts that are not zero, nothing when there is nothing to say") {
    referrers_stats none;
    CHECK_FALSE(has_referrers(none));
    CHECK(referrers_outcome(none).empty());

    referrers_stats some;
    some.found = 3;
    some.copied = 2;
    some.present = 1;
    CHECK(has_referrers(some));
    CHECK(referrers_outcome(some) == "2 referrers copied, 1 already there");

    referrers_stats one;
    one.found = 1;
    one.copied = 1;
    CHECK(referrers_outcome(one) == "1 referrer copied");

    referrers_stats in_place;
    in_place.found = 2;
    in_place.present = 2;
    CHECK(referrers_outcome(in_place) == "0 referrers copied, 2 already there");

    referrers_stats left;
    left.excluded = 3;
    left.not_carried = 1;
    CHECK(referrers_outcome(left) == "0 referrers copied, 3 excluded by type, 1 not carried");

    referrers_stats noted;
    noted.notes.push_back("a cycle");
    CHECK(has_referrers(noted));
}

TEST_CASE("referrers_stats_json: every count, by name") {
    referrers_stats s;
    s.found = 6;
    s.copied = 2;
    s.present = 3;
    s.excluded = 4;
    s.not_carried = 1;
    s.fallback_updates = 5;
    CHECK(referrers_stats_json(s).dump() ==
          R"({"found":6,"copied":2,"present":3,"excluded":4,"not_carried":1,"fallback_updates":5})");
}

TEST_CASE("referrers_tree_text: referrers under their subject, children with referrers, escaped text") {
    const std::string a(64, 'a'), b(64, 'b'), s(64, 'd'), m(64, 'e'), i(64, 'f'), t(64, '1');
    const auto expected = "registry.example/org/app:1.0 sha256:" + a +
                          " application/vnd.oci.image.index.v1+json\n" + "  " + sig_type + " sha256:" + s +
                          " 1.5 KiB via api\n" +
                          "    annotation dev.cosignproject.cosign/signature: MEUCIQ\\n\\e[31mforged\n" + //
                          "  " + sbom_type + " sha256:" + m + " 1.5 KiB via tag schema\n" +               //
                          "    " + sig_type + " sha256:" + t + " 1.5 KiB via cosign tag sha256-" + m +
                          ".sig\n" + "  child sha256:" + b + " linux/amd64\n" +          //
                          "    " + intoto_type + " sha256:" + i + " 1.5 KiB via api\n" + //
                          "4 referrers (2 excluded by type)\n";
    CHECK(referrers_tree_text(index_tree()) == expected);
}

TEST_CASE("referrers_tree_text: none, none selected, beyond the depth, unknown size, long annotations") {
    referrers_tree tree;
    tree.image = "registry.example/org/app:1.0";
    tree.digest = digest_of('a');
    tree.media_type = "application/vnd.oci.image.manifest.v1+json";
    const auto head = "registry.example/org/app:1.0 sha256:" + std::string(64, 'a') +
                      " application/vnd.oci.image.manifest.v1+json\n";
    CHECK(referrers_tree_text(tree) == head + "no referrers\n");
    tree.discovery.excluded = 1;
    CHECK(referrers_tree_text(tree) == head + "no referrers (1 excluded by type)\n");

    auto n = node('d', 'a', "", referrer_via::api, 1);
    n.desc.size = -1;
    n.desc.annotations["dev.sigstore.cosign/bundle"] = std::string(150, 'x');
    tree.discovery.nodes.push_back(n);
    tree.discovery.excluded = 0;
    tree.discovery.too_deep = 2;
    // Without an artifact type the node shows its media type.
    CHECK(referrers_tree_text(tree) ==
          head + "  application/vnd.oci.image.manifest.v1+json sha256:" + std::string(64, 'd') +
              " size unknown via api\n" +
              "    annotation dev.sigstore.cosign/bundle: " + std::string(100, 'x') +
              "... (150 characters)\n" + "1 referrer (2 beyond the depth bound (--referrers-depth))\n");
}

TEST_CASE("referrers_tree_json: the tree with every field, children with their platform") {
    auto tree = index_tree();
    tree.discovery.notes.push_back("the depth bound was reached");
    const auto j = referrers_tree_json(tree);
    CHECK(j["image"] == "registry.example/org/app:1.0");
    CHECK(j["digest"] == digest_of('a').str());
    CHECK(j["media_type"] == "application/vnd.oci.image.index.v1+json");
    REQUIRE(j["referrers"].size() == 2);
    const auto& signature = j["referrers"][0];
    CHECK(signature["artifact_type"] == sig_type);
    CHECK(signature["digest"] == digest_of('d').str());
    CHECK(signature["media_type"] == "application/vnd.oci.image.manifest.v1+json");
    CHECK(signature["size"] == 1536);
    CHECK(signature["via"] == "api");
    CHECK_FALSE(signature.contains("tag"));
    // JSON keeps the value whole; its encoding escapes what needs it.
    CHECK(signature["annotations"]["dev.cosignproject.cosign/signature"] == "MEUCIQ\n\x1b[31mforged");
    CHECK(signature["referrers"].empty());
    const auto& sbom = j["referrers"][1];
    CHECK(sbom["via"] == "tag schema");
    CHECK(sbom["annotations"].is_object());
    REQUIRE(sbom["referrers"].size() == 1);
    CHECK(sbom["referrers"][0]["digest"] == digest_of('1').str());
    CHECK(sbom["referrers"][0]["via"] == "cosign tag");
    CHECK(sbom["referrers"][0]["tag"] == "sha256-" + std::string(64, 'e') + ".sig");
    REQUIRE(j["children"].size() == 2);
    CHECK(j["children"][0]["digest"] == digest_of('b').str());
    CHECK(j["children"][0]["platform"] == "linux/amd64");
    REQUIRE(j["children"][0]["referrers"].size() == 1);
    CHECK(j["children"][0]["referrers"][0]["artifact_type"] == intoto_type);
    CHECK(j["children"][1]["platform"] == "linux/arm64");
    CHECK(j["children"][1]["referrers"].empty());
    CHECK(j["excluded"] == 2);
    CHECK(j["beyond_depth"] == 0);
    CHECK(j["notes"] == nlohmann::ordered_json::array({"the depth bound was reached"}));
    CHECK(j.dump().find("\\u001b[31mforged") != std::string::npos);
}

TEST_CASE("referrers_tree_json: a single manifest without referrers") {
    referrers_tree tree;
    tree.image = "registry.example/org/app@sha256:" + std::string(64, 'a');
    tree.digest = digest_of('a');
    tree.media_type = "application/vnd.oci.image.manifest.v1+json";
    const auto j = referrers_tree_json(tree);
    CHECK(j["referrers"].is_array());
    CHECK(j["referrers"].empty());
    CHECK(j["children"].is_array());
    CHECK(j["children"].empty());
}
