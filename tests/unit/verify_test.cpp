#include "memory_registry.hpp"
#include "tar_fixtures.hpp"

#include <libregistry/sync/verify.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>

using namespace libregistry;
using libregistry::testing::gzip_bytes;
using libregistry::testing::memory_registry;
namespace asio = boost::asio;

namespace {

class provider final : public registry_provider {
public:
    std::map<std::string, memory_registry*> regs;
    registry& get(const std::string& name) override { return *regs.at(name); }
};

verify_report run(std::vector<sync_rule> rules, provider& p, verify_options options = {}) {
    asio::io_context io;
    std::optional<result<verify_report>> out;
    asio::co_spawn(io, run_verify(std::move(rules), p, std::move(options)),
                   [&](std::exception_ptr e, result<verify_report> r) {
                       if (e) std::rethrow_exception(e);
                       out = std::move(r);
                   });
    io.run();
    return out->value();
}

// An OCI image of gzip layers made from `contents`; the config's diff_ids are `diff_ids` when given (to make
// one lie), else the true ones. Added to every registry in `regs`.
manifest add_image(std::vector<memory_registry*> regs, const std::string& repo,
                   const std::vector<std::string>& contents, const std::string& tag,
                   std::vector<std::string> diff_ids = {}) {
    std::string layers_json, ids_json;
    std::vector<std::string> blobs;
    for (std::size_t i = 0; i < contents.size(); ++i) {
        auto gz = gzip_bytes(contents[i]);
        blobs.push_back(gz);
        layers_json += fmt::format(
            R"({}{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}})",
            i ? "," : "", digest_of(gz).str(), gz.size());
        ids_json += fmt::format(R"({}"{}")", i ? "," : "",
                                diff_ids.empty() ? digest_of(contents[i]).str() : diff_ids[i]);
    }
    std::string config = fmt::format(
        R"({{"os":"linux","architecture":"amd64","rootfs":{{"type":"layers","diff_ids":[{}]}}}})", ids_json);
    auto body = fmt::format(
        R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{}]}})",
        digest_of(config).str(), config.size(), layers_json);
    manifest m;
    for (auto* reg : regs) {
        reg->add_blob(repo, config);
        for (const auto& b : blobs)
            reg->add_blob(repo, b);
        m = reg->add_manifest(repo, body, tag);
    }
    return m;
}

sync_rule whole_repo(const std::string& from, const std::string& to) {
    sync_rule r;
    r.source = {"src.example", from, tag_selector::all, {}, {}, {}};
    r.destinations = {{"dst.example", to, {}}};
    r.origin = "images.yaml:1";
    return r;
}

const verify_result& find(const verify_report& report, const std::string& dest_tag) {
    auto it = std::find_if(report.images.begin(), report.images.end(),
                           [&](const verify_result& r) { return r.item.destination.tag == dest_tag; });
    REQUIRE(it != report.images.end());
    return *it;
}

struct fixture {
    memory_registry src{"src.example"};
    memory_registry dst{"dst.example"};
    provider p;
    fixture() {
        p.regs["src.example"] = &src;
        p.regs["dst.example"] = &dst;
    }
};

} // namespace

TEST_CASE("HEAD-only: in sync, missing, different and extra, with no GET at all") {
    fixture f;
    add_image({&f.src, &f.dst}, "app", {"base", "one"}, "1.0");
    add_image({&f.src}, "app", {"base", "two"}, "2.0");       // never copied: missing
    add_image({&f.src}, "app", {"base", "three"}, "3.0");     // moved at the source...
    add_image({&f.dst}, "app", {"base", "three-old"}, "3.0"); // ...the mirror has the old one
    add_image({&f.dst}, "app", {"base", "retired"}, "0.9");   // the source no longer has it
    auto report = run({whole_repo("app", "mirror/app")}, f.p);
    // The destination repository is mirror/app, so nothing there yet: everything but extra shows up there.
    CHECK(report.totals.missing == 3);
    CHECK(report.totals.extra == 0);

    fixture g;
    add_image({&g.src, &g.dst}, "app", {"base", "one"}, "1.0");
    add_image({&g.src}, "app", {"base", "two"}, "2.0");
    add_image({&g.src}, "app", {"base", "three"}, "3.0");
    add_image({&g.dst}, "app", {"base", "three-old"}, "3.0");
    add_image({&g.dst}, "app", {"base", "retired"}, "0.9");
    std::vector<std::string> announced;
    verify_options options;
    options.on_result = [&](const verify_result& r) { announced.push_back(r.item.destination.tag); };
    report = run({whole_repo("app", "app")}, g.p, options);
    CHECK(find(report, "1.0").status == verify_status::in_sync);
    CHECK(find(report, "2.0").status == verify_status::missing);
    CHECK(find(report, "3.0").status == verify_status::different);
    CHECK(find(report, "3.0").reason.find("the destination has") != std::string::npos);
    CHECK(find(report, "0.9").status == verify_status::extra);
    CHECK(report.totals.in_sync == 1);
    CHECK(report.totals.drift() == 3);
    CHECK(announced.size() == 4);
    // HEAD-only: one HEAD per side of each tag, the two tag lists, and nothing fetched.
    CHECK(g.src.manifest_heads == 3);
    CHECK(g.dst.manifest_heads == 3);
    CHECK(g.src.manifest_gets + g.dst.manifest_gets == 0);
    CHECK(g.src.blob_gets + g.dst.blob_gets == 0);
    CHECK(g.src.list_calls == 1);
    CHECK(g.dst.list_calls == 1);
}

TEST_CASE("listed tags are never extra; a tag the source lacks fails; a listing failure fails its rule") {
    fixture f;
    add_image({&f.src, &f.dst}, "app", {"a"}, "1.0");
    add_image({&f.dst}, "app", {"b"}, "other");
    sync_rule listed = whole_repo("app", "app");
    listed.source.selector = tag_selector::listed;
    listed.source.tags = {"1.0", "nope"};
    auto report = run({listed}, f.p);
    CHECK(report.images.size() == 2);
    CHECK(find(report, "1.0").status == verify_status::in_sync);
    CHECK(find(report, "nope").status == verify_status::failed);
    CHECK(f.dst.list_calls == 0);

    fixture g;
    add_image({&g.dst}, "app", {"a"}, "1.0");
    auto failed = run({whole_repo("gone", "app")}, g.p);
    REQUIRE(failed.images.size() == 1);
    CHECK(failed.images[0].status == verify_status::failed);
    CHECK(failed.images[0].reason.find("listing tags of src.example/gone") != std::string::npos);
}

TEST_CASE("deep: an image read back whole is in sync; shared blobs are read once") {
    fixture f;
    add_image({&f.src, &f.dst}, "app", {"base", "one"}, "1.0");
    add_image({&f.src, &f.dst}, "app", {"base", "two"}, "2.0");
    verify_options options;
    options.deep = true;
    auto report = run({whole_repo("app", "app")}, f.p, options);
    CHECK(report.totals.in_sync == 2);
    CHECK(report.totals.drift() == 0);
    // Two configs, three distinct layers; nothing read from the source.
    CHECK(f.dst.blob_gets == 5);
    CHECK(f.src.blob_gets == 0);
    CHECK(report.totals.blobs_checked == 6); // each image counts what it uses, the shared layer twice
}

TEST_CASE("deep: a damaged layer and a diff_id mismatch are named by image, layer and what is wrong") {
    fixture f;
    auto good = add_image({&f.src, &f.dst}, "app", {"base", "one"}, "1.0");
    f.dst.corrupt.insert(good.layers[1].digest);
    auto lying = add_image({&f.src, &f.dst}, "app", {"base", "two"}, "2.0",
                           {digest_of("base").str(), digest_of("not two").str()});
    verify_options options;
    options.deep = true;
    auto report = run({whole_repo("app", "app")}, f.p, options);
    auto& damaged = find(report, "1.0");
    CHECK(damaged.status == verify_status::damaged);
    REQUIRE(damaged.problems.size() == 1);
    CHECK(damaged.problems[0].find(fmt::format("layer 1 {} of dst.example/app:1.0: stored bytes hash to",
                                               good.layers[1].digest.str())) == 0);
    auto& mismatch = find(report, "2.0");
    CHECK(mismatch.status == verify_status::damaged);
    REQUIRE(mismatch.problems.size() == 1);
    CHECK(mismatch.problems[0] ==
          fmt::format("layer 1 {} of dst.example/app:2.0: uncompressed content hashes to {}, config diff_id "
                      "says {}",
                      lying.layers[1].digest.str(), digest_of("two").str(), digest_of("not two").str()));
    CHECK(report.totals.damaged == 2);
}

TEST_CASE("deep: cosign-style tags of a verified digest must be at the destination") {
    fixture f;
    auto image = add_image({&f.src, &f.dst}, "app", {"a"}, "1.0");
    auto hex = std::string(image.digest.encoded());
    add_image({&f.src}, "app", {"signature"}, "sha256-" + hex + ".sig");
    add_image({&f.src}, "app", {"unrelated"}, "sha256-" + std::string(64, '0') + ".sig");
    sync_rule listed = whole_repo("app", "app");
    listed.source.selector = tag_selector::listed;
    listed.source.tags = {"1.0"};
    verify_options options;
    options.deep = true;
    auto report = run({listed}, f.p, options);
    REQUIRE(report.images.size() == 1);
    CHECK(report.images[0].status == verify_status::incomplete);
    REQUIRE(report.images[0].problems.size() == 1);
    CHECK(report.images[0].problems[0].find("sha256-" + hex + ".sig") != std::string::npos);
    CHECK(report.images[0].problems[0].find("missing at the destination") != std::string::npos);

    // Once the signature is there too, nothing is missing; without --deep it is never looked for.
    add_image({&f.dst}, "app", {"signature"}, "sha256-" + hex + ".sig");
    CHECK(run({listed}, f.p, options).totals.drift() == 0);
}

TEST_CASE("deep: referrers the source lists for a verified digest must be at the destination by digest") {
    fixture f;
    auto image = add_image({&f.src, &f.dst}, "app", {"a"}, "1.0");
    const std::string config = "{}";
    const std::string sbom = R"({"spdxVersion":"SPDX-2.3"})";
    const auto body = fmt::format(
        R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/spdx+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{}","size":2}},"layers":[{{"mediaType":"application/spdx+json","digest":"{}","size":{}}}],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{}}}}})",
        digest_of(config).str(), digest_of(sbom).str(), sbom.size(), image.digest.str(), image.bytes.size());
    f.src.add_blob("app", config);
    f.src.add_blob("app", sbom);
    auto referrer = f.src.add_manifest("app", body);
    verify_options options;
    options.deep = true;
    auto report = run({whole_repo("app", "app")}, f.p, options);
    REQUIRE(report.images.size() == 1);
    CHECK(report.images[0].status == verify_status::incomplete);
    REQUIRE(report.images[0].problems.size() == 1);
    CHECK(report.images[0].problems[0].find(referrer.digest.str()) != std::string::npos);
    CHECK(report.images[0].problems[0].find("application/spdx+json") != std::string::npos);
    CHECK(report.images[0].problems[0].find("missing at the destination") != std::string::npos);
    // Without --deep referrers are not looked at; once the SBOM is at the destination nothing is missing.
    CHECK(run({whole_repo("app", "app")}, f.p).totals.drift() == 0);
    f.dst.add_blob("app", config);
    f.dst.add_blob("app", sbom);
    f.dst.add_manifest("app", body);
    CHECK(run({whole_repo("app", "app")}, f.p, options).totals.drift() == 0);
}
