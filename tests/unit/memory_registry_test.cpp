// The in-memory registry other tests run against behaves as the registries it stands for: here, its two
// ways of answering list_referrers (with the referrers API, and as docker-registry without it).
#include "memory_registry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

using namespace libregistry;
using libregistry::testing::memory_registry;
namespace asio = boost::asio;

namespace {

result<referrer_list> list(memory_registry& reg, const std::string& repository, const digest& subject,
                           std::optional<std::string> artifact_type) {
    asio::io_context io;
    std::optional<result<referrer_list>> out;
    asio::co_spawn(io, reg.list_referrers(repository, subject, std::move(artifact_type)),
                   [&](std::exception_ptr e, result<referrer_list> value) {
                       if (e) std::rethrow_exception(e);
                       out = std::move(value);
                   });
    io.run();
    return std::move(*out);
}

const std::string oci_manifest = "application/vnd.oci.image.manifest.v1+json";

std::string image(const std::string& note) {
    return fmt::format(R"({{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"application/)"
                       R"(vnd.oci.image.config.v1+json","digest":"{}","size":2}},"layers":[],)"
                       R"("annotations":{{"note":"{}"}}}})",
                       oci_manifest, digest_of("{}").str(), note);
}

/// An artifact whose subject is `subject`: with an artifactType, or (empty) a cosign-style config type.
std::string artifact(const manifest& subject, const std::string& artifact_type, const std::string& note) {
    const auto config_type = artifact_type.empty() ? "application/vnd.dev.cosign.artifact.sig.v1+json"
                                                   : "application/vnd.oci.empty.v1+json";
    const auto type_field =
        artifact_type.empty() ? std::string() : fmt::format(R"("artifactType":"{}",)", artifact_type);
    return fmt::format(R"({{"schemaVersion":2,"mediaType":"{}",{}"config":{{"mediaType":"{}","digest":"{}",)"
                       R"("size":2}},"layers":[],"subject":{{"mediaType":"{}","digest":"{}","size":{}}},)"
                       R"("annotations":{{"note":"{}"}}}})",
                       oci_manifest, type_field, config_type, digest_of("{}").str(), oci_manifest,
                       subject.digest.str(), subject.bytes.size(), note);
}

std::vector<std::string> notes(const referrer_list& l) {
    std::vector<std::string> out;
    for (const auto& d : l.descriptors)
        out.push_back(d.annotations.at("note"));
    return out;
}

} // namespace

TEST_CASE("memory_registry: with the referrers API, the stored manifests whose subject is the digest") {
    memory_registry reg("mem.example");
    const auto subject = reg.add_manifest("app", image("subject"), "1.0");
    const auto other = reg.add_manifest("app", image("other"), "2.0");
    const auto sbom = reg.add_manifest("app", artifact(subject, "application/spdx+json", "sbom"));
    reg.add_manifest("app", artifact(subject, "", "sig"));
    reg.add_manifest("app", artifact(other, "", "other-sig"));
    reg.add_manifest("elsewhere", artifact(subject, "", "elsewhere-sig"));

    auto all = list(reg, "app", subject.digest, std::nullopt).value();
    CHECK(all.source == referrers_source::api);
    auto seen = notes(all);
    std::sort(seen.begin(), seen.end());
    CHECK(seen == std::vector<std::string>{"sbom", "sig"});
    for (const auto& d : all.descriptors)
        CHECK(d.artifact_type == (d.annotations.at("note") == "sbom"
                                      ? "application/spdx+json"
                                      : "application/vnd.dev.cosign.artifact.sig.v1+json"));

    auto only_sbom = list(reg, "app", subject.digest, std::string("application/spdx+json")).value();
    CHECK(notes(only_sbom) == std::vector<std::string>{"sbom"});
    CHECK(only_sbom.descriptors[0].digest == sbom.digest);
    CHECK(only_sbom.filtered_by_registry);

    auto none = list(reg, "app", sbom.digest, std::nullopt).value();
    CHECK(none.source == referrers_source::api);
    CHECK(none.descriptors.empty());
    CHECK(reg.referrers_calls == 3);
}

TEST_CASE("memory_registry: without the API, only the tag schema's index counts") {
    memory_registry reg("mem.example");
    reg.referrers_api = false;
    const auto subject = reg.add_manifest("app", image("subject"), "1.0");
    const auto sig = reg.add_manifest("app", artifact(subject, "", "sig"));

    // A referrer pushed without its tag schema index is not found: docker-registry cannot see it.
    auto before = list(reg, "app", subject.digest, std::nullopt).value();
    CHECK(before.source == referrers_source::none);
    CHECK(before.descriptors.empty());

    const auto index = fmt::format(
        R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
        R"({{"mediaType":"{}","digest":"{}","size":{},"artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json",)"
        R"("annotations":{{"note":"sig"}}}}]}})",
        oci_manifest, sig.digest.str(), sig.bytes.size());
    reg.add_manifest("app", index, referrers_tag(subject.digest));
    auto after = list(reg, "app", subject.digest, std::nullopt).value();
    CHECK(after.source == referrers_source::tag_schema);
    CHECK(notes(after) == std::vector<std::string>{"sig"});
    CHECK_FALSE(after.filtered_by_registry);
    CHECK(list(reg, "app", subject.digest, std::string("application/spdx+json")).value().descriptors.empty());
}
