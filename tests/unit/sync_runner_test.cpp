#include "memory_registry.hpp"

#include <libregistry/sync_runner.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>

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
