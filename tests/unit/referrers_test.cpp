#include "libregistry/core/referrers.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

using namespace libregistry;

namespace {

const digest subject = digest_of("subject");
const std::string hex = std::string(subject.encoded());

std::vector<std::string> digests_of(const std::vector<descriptor>& list) {
    std::vector<std::string> out;
    for (const auto& d : list)
        out.push_back(d.digest.str());
    return out;
}

descriptor with(const std::string& seed, std::string artifact_type) {
    descriptor d;
    d.media_type = "application/vnd.oci.image.manifest.v1+json";
    d.digest = digest_of(seed);
    d.size = 10;
    d.artifact_type = std::move(artifact_type);
    return d;
}

} // namespace

TEST_CASE("referrers_tag and cosign_tag name a digest the way the tag schema and cosign do") {
    CHECK(referrers_tag(subject) == "sha256-" + hex);
    CHECK(cosign_tag(subject, "sig") == "sha256-" + hex + ".sig");
    CHECK(cosign_tag(subject, "att") == "sha256-" + hex + ".att");
    CHECK(cosign_tag(subject, "sbom") == "sha256-" + hex + ".sbom");
    // sha512: the encoded part is cut to 64 characters, as distribution-spec says.
    const auto long_digest = digest_of("subject", "sha512");
    CHECK(referrers_tag(long_digest) == "sha512-" + std::string(long_digest.encoded().substr(0, 64)));
}

TEST_CASE("cosign_tags_for picks the tags of one digest with any suffix, in the tag list's order") {
    const auto other = std::string(digest_of("other").encoded());
    const std::vector<std::string> tags{"latest",
                                        "sha256-" + hex + ".sig",
                                        "sha256-" + hex,
                                        "sha256-" + other + ".sig",
                                        "sha256-" + hex + ".att",
                                        "sha256-" + hex + ".",
                                        "sha256-" + hex + "x.sig",
                                        "sha256-" + hex + ".custom-suffix",
                                        "sha256-" + hex + ".sbom"};
    const std::vector<std::string> expected{"sha256-" + hex + ".sig", "sha256-" + hex + ".att",
                                            "sha256-" + hex + ".custom-suffix", "sha256-" + hex + ".sbom"};
    CHECK(cosign_tags_for(subject, tags) == expected);
    CHECK(cosign_tags_for(subject, {}).empty());
}

TEST_CASE("subject_of_tag reads the digest back from a tag schema or cosign tag, and nothing else") {
    struct row {
        std::string tag;
        std::optional<std::string> expected;
    };
    const std::vector<row> rows{
        {"sha256-" + hex, subject.str()},
        {"sha256-" + hex + ".sig", subject.str()},
        {"sha256-" + hex + ".custom", subject.str()},
        {"sha256-" + hex + ".", std::nullopt},
        {"sha256-" + hex.substr(0, 63), std::nullopt},
        {"sha256-" + hex + "0", std::nullopt},
        {"latest", std::nullopt},
        {"v1.2-rc1", std::nullopt},
        {"-" + hex, std::nullopt},
        {"md5-" + hex, std::nullopt},
    };
    for (const auto& r : rows) {
        CAPTURE(r.tag);
        const auto d = subject_of_tag(r.tag);
        REQUIRE(d.has_value() == r.expected.has_value());
        if (d) CHECK(d->str() == *r.expected);
    }
}

TEST_CASE("referrers_target: the API path, with the artifactType percent-encoded when one is asked for") {
    CHECK(referrers_target("library/alpine", subject, std::nullopt) ==
          "/v2/library/alpine/referrers/" + subject.str());
    CHECK(referrers_target("library/alpine", subject, std::string{}) ==
          "/v2/library/alpine/referrers/" + subject.str());
    CHECK(referrers_target("a/b", subject, std::string("application/vnd.dev.sigstore.bundle.v0.3+json")) ==
          "/v2/a/b/referrers/" + subject.str() +
              "?artifactType=application%2Fvnd.dev.sigstore.bundle.v0.3%2Bjson");
}

TEST_CASE("parse_referrers keeps each descriptor's fields; anything but an index is an error") {
    const auto sig = digest_of("sig").str();
    const auto sbom = digest_of("sbom").str();
    const std::string body =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
        R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
        sig +
        R"(","size":1234,"artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json",)"
        R"("annotations":{"dev.cosignproject.cosign/signature":"MEUC","org.opencontainers.image.created":"2026-01-01T00:00:00Z"}},)"
        R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
        sbom + R"(","size":99,"artifactType":"application/spdx+json"}]})";
    auto parsed = parse_referrers(body);
    REQUIRE_MESSAGE(parsed.has_value(), (parsed ? std::string() : parsed.error().message));
    REQUIRE(parsed->size() == 2);
    const auto& first = (*parsed)[0];
    CHECK(first.media_type == "application/vnd.oci.image.manifest.v1+json");
    CHECK(first.digest.str() == sig);
    CHECK(first.size == 1234);
    CHECK(first.artifact_type == "application/vnd.dev.cosign.artifact.sig.v1+json");
    CHECK(first.annotations.size() == 2);
    CHECK(first.annotations.at("dev.cosignproject.cosign/signature") == "MEUC");
    CHECK((*parsed)[1].artifact_type == "application/spdx+json");
    CHECK((*parsed)[1].annotations.empty());

    // No mediaType in the body: the Content-Type says what it is.
    auto by_header =
        parse_referrers(R"({"schemaVersion":2,"manifests":[]})", "application/vnd.oci.image.index.v1+json");
    REQUIRE(by_header.has_value());
    CHECK(by_header->empty());

    struct bad_row {
        std::string body;
        std::string content_type;
        std::string words;
        errc code = errc::invalid_manifest;
    };
    const std::vector<bad_row> rows{
        {"<html>not found</html>", "text/html", "not valid JSON"},
        {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a","digest":")" +
             sig + R"(","size":1},"layers":[]})",
         "", "must be an OCI image index"},
        {R"({"errors":[]})", "application/json", "unsupported manifest", errc::unsupported_media_type},
        {R"({"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"a","digest":")" +
             sig + R"(","size":1,"annotations":{"k":1}}]})",
         "", "manifests[0].annotations.k: expected a string"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.body);
        auto p = parse_referrers(r.body, r.content_type);
        REQUIRE(p.has_error());
        CHECK(p.error().code == r.code);
        CHECK_MESSAGE(p.error().message.find(r.words) != std::string::npos, p.error().message);
    }
}

TEST_CASE("referrer_descriptor: artifactType, else the config's media type; the manifest's annotations") {
    const auto config = digest_of("{}").str();
    const std::string with_type =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/spdx+json",)"
        R"("config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":")" +
        config +
        R"(","size":2},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
        subject.str() + R"(","size":5},"annotations":{"org.example":"yes"}})";
    const auto m = parse_manifest(with_type).value();
    const auto d = referrer_descriptor(m);
    CHECK(d.digest == m.digest);
    CHECK(d.size == static_cast<std::int64_t>(with_type.size()));
    CHECK(d.media_type == "application/vnd.oci.image.manifest.v1+json");
    CHECK(d.artifact_type == "application/spdx+json");
    REQUIRE(d.annotations.size() == 1);
    CHECK(d.annotations.at("org.example") == "yes");
    // The manifest's descriptor for copying is unchanged: no annotations there.
    CHECK(m.as_descriptor().annotations.empty());

    const std::string cosign =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
        R"("config":{"mediaType":"application/vnd.dev.cosign.artifact.sig.v1+json","digest":")" +
        config + R"(","size":2},"layers":[]})";
    CHECK(referrer_descriptor(parse_manifest(cosign).value()).artifact_type ==
          "application/vnd.dev.cosign.artifact.sig.v1+json");
}

TEST_CASE("filter_artifact_type keeps the matching descriptors; no filter keeps all") {
    const std::vector<descriptor> list{with("a", "application/spdx+json"), with("b", "sig"),
                                       with("c", "application/spdx+json"), with("d", "")};
    CHECK(digests_of(filter_artifact_type(list, std::nullopt)) == digests_of(list));
    CHECK(digests_of(filter_artifact_type(list, std::string{})) == digests_of(list));
    CHECK(digests_of(filter_artifact_type(list, std::string("application/spdx+json"))) ==
          std::vector<std::string>{digest_of("a").str(), digest_of("c").str()});
    CHECK(filter_artifact_type(list, std::string("none")).empty());
}

TEST_CASE("merge_descriptors never drops or changes an existing descriptor and adds each new digest once") {
    auto kept = with("a", "old-type");
    kept.annotations["writer"] = "other";
    const std::vector<descriptor> existing{kept, with("b", "sig")};
    const std::vector<descriptor> added{with("b", "changed"), with("c", "sbom"), with("c", "sbom"),
                                        with("a", "new-type")};
    const auto merged = merge_descriptors(existing, added);
    CHECK(digests_of(merged) ==
          std::vector<std::string>{digest_of("a").str(), digest_of("b").str(), digest_of("c").str()});
    CHECK(merged[0].artifact_type == "old-type");
    CHECK(merged[0].annotations.at("writer") == "other");
    CHECK(merged[1].artifact_type == "sig");
    CHECK(merge_descriptors({}, added).size() == 3);
    CHECK(digests_of(merge_descriptors(existing, {})) == digests_of(existing));
}

TEST_CASE("referrers_index writes an OCI index that parses back to the same descriptors, digest and bytes") {
    auto sig = with("sig", "application/vnd.dev.cosign.artifact.sig.v1+json");
    sig.annotations = {{"org.opencontainers.image.created", "2026-01-01T00:00:00Z"}, {"note", "a \"quote\""}};
    auto plain = with("plain", "");
    const auto index = referrers_index({sig, plain});
    CHECK(index.kind == manifest_kind::index);
    CHECK(index.media_type == "application/vnd.oci.image.index.v1+json");
    CHECK(index.digest == digest_of(index.bytes));
    CHECK(index.bytes.find(R"("schemaVersion":2)") != std::string::npos);
    // Fields left out when not set: no empty artifactType, no empty annotations.
    CHECK(index.bytes.find(R"("artifactType":"")") == std::string::npos);
    CHECK(index.bytes.find(R"("annotations":{})") == std::string::npos);
    CHECK(index.bytes.find("platform") == std::string::npos);

    auto back = parse_referrers(index.bytes).value();
    REQUIRE(back.size() == 2);
    CHECK(digests_of(back) == digests_of({sig, plain}));
    for (std::size_t i = 0; i < back.size(); ++i) {
        const auto& expected = i == 0 ? sig : plain;
        CHECK(back[i].media_type == expected.media_type);
        CHECK(back[i].size == expected.size);
        CHECK(back[i].artifact_type == expected.artifact_type);
        CHECK(back[i].annotations == expected.annotations);
    }
    // The same descriptors give the same bytes (the digest a registry stores is stable across runs).
    CHECK(referrers_index({sig, plain}).bytes == index.bytes);
    CHECK(referrers_index({}).manifests.empty());
}

TEST_CASE("referrers_stats add up field by field, notes appended in order") {
    referrers_stats a;
    a.found = 1;
    a.copied = 1;
    a.bytes_sent = 10;
    a.notes = {"first"};
    referrers_stats b;
    b.found = 2;
    b.present = 2;
    b.excluded = 1;
    b.not_carried = 3;
    b.fallback_updates = 1;
    b.bytes_sent = 5;
    b.notes = {"second"};
    a += b;
    CHECK(a.found == 3);
    CHECK(a.copied == 1);
    CHECK(a.present == 2);
    CHECK(a.excluded == 1);
    CHECK(a.not_carried == 3);
    CHECK(a.fallback_updates == 1);
    CHECK(a.bytes_sent == 15);
    CHECK(a.notes == std::vector<std::string>{"first", "second"});
}
