// `syncer inspect`, `syncer digest`, `syncer tags`, `syncer catalog`, `syncer referrers`: read-only queries.
#include "commands/commands.hpp"
#include "commands/common_flags.hpp"
#include "commands/referrer_flags.hpp"
#include "output/logger.hpp"
#include "output/referrers_output.hpp"
#include "session.hpp"
#include "text.hpp"

#include <libregistry/sync/referrers_copy.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace syncer {

namespace asio = boost::asio;
using namespace libregistry;

namespace {

struct query_flags {
    std::string target;
    endpoint_flags endpoint;
    bool raw = false;
    int retry_times = 3;
    std::string format = "text";
    referrer_flags referrers;
};

void add_query_flags(CLI::App& cmd, query_flags& f) {
    cmd.add_option("--creds", f.endpoint.creds, "USER[:PASS] for the registry");
    add_password_flags(cmd, f.endpoint);
    cmd.add_flag("--tls-verify{true}", f.endpoint.tls_verify,
                 "Verify the registry's TLS certificate (=false also allows plain HTTP)");
    cmd.add_option("--cert-dir", f.endpoint.cert_dir,
                   "Directory with CA certificates and client certificates");
    cmd.add_option("--authfile", f.endpoint.auth_file, "Docker config.json / containers auth.json");
    add_retries_flag(cmd, f.retry_times, "Retries per request");
}

int fail(const std::string& command, const error& e) {
    std::cerr << "syncer " << command << ": " << safe_text(e.message) << "\n";
    return exit_failed;
}

int run_inspect(const query_flags& f) {
    auto ref = parse_cli_reference(f.target, "invalid reference");
    session s(f.retry_times);
    auto& reg = s.open(ref.registry, f.endpoint);
    return s.run([&]() -> asio::awaitable<int> {
        auto m = co_await reg.get_manifest(ref.repository, ref.identifier());
        if (!m) co_return fail("inspect", m.error());
        if (f.raw) {
            std::cout << m->bytes;
            std::cout.flush();
            co_return exit_ok;
        }
        nlohmann::ordered_json out;
        out["name"] = ref.name();
        out["digest"] = m->digest.str();
        out["mediaType"] = m->media_type;
        out["size"] = m->bytes.size();
        out["manifest"] = nlohmann::ordered_json::parse(m->bytes, nullptr, false);
        std::cout << out.dump(2) << "\n";
        co_return exit_ok;
    });
}

int run_digest(const query_flags& f) {
    auto ref = parse_cli_reference(f.target, "invalid reference");
    session s(f.retry_times);
    auto& reg = s.open(ref.registry, f.endpoint);
    return s.run([&]() -> asio::awaitable<int> {
        auto d = co_await reg.head_manifest(ref.repository, ref.identifier());
        if (!d) co_return fail("digest", d.error());
        if (!*d) {
            std::cerr << fmt::format("syncer digest: {} not found\n", ref.str());
            co_return exit_failed;
        }
        std::cout << (*d)->digest.str() << "\n";
        co_return exit_ok;
    });
}

int run_tags(const query_flags& f) {
    auto ref = parse_repository(f.target);
    if (!ref) throw usage_error(fmt::format("invalid repository: {}", ref.error().message));
    session s(f.retry_times);
    auto& reg = s.open(ref->registry, f.endpoint);
    return s.run([&]() -> asio::awaitable<int> {
        auto tags = co_await reg.list_tags(ref->repository);
        if (!tags) co_return fail("tags", tags.error());
        for (const auto& t : *tags)
            std::cout << t << "\n";
        co_return exit_ok;
    });
}

int run_catalog(const query_flags& f) {
    auto registry = normalize_registry(f.target);
    bool host_only = f.target.find_first_of("/ \t") == std::string::npos &&
                     parse_repository(f.target + "/probe").has_value();
    if (registry.empty() || !host_only)
        throw usage_error(fmt::format(
            "invalid registry \"{}\": give a host[:port], e.g. quay.io or 127.0.0.1:5000", f.target));
    session s(f.retry_times);
    auto& reg = s.open(registry, f.endpoint);
    return s.run([&]() -> asio::awaitable<int> {
        auto repositories = co_await reg.catalog();
        if (!repositories) co_return fail("catalog", repositories.error());
        for (const auto& r : *repositories)
            std::cout << r << "\n";
        co_return exit_ok;
    });
}

int run_referrers(const query_flags& f) {
    if (f.format != "text" && f.format != "json")
        throw usage_error(fmt::format("--format {}: expected text or json", f.format));
    auto ref = parse_cli_reference(f.target, "invalid reference");
    referrers_context context(parse_referrer_flags(f.referrers));
    session s(f.retry_times);
    auto& reg = s.open(ref.registry, f.endpoint);
    return s.run([&]() -> asio::awaitable<int> {
        auto m = co_await reg.get_manifest(ref.repository, ref.identifier());
        if (!m) co_return fail("referrers", m.error());
        referrers_tree tree;
        tree.image = ref.str();
        tree.digest = m->digest;
        tree.media_type = m->media_type;
        // An index's referrers and those of each of its images: signatures are often made per platform.
        std::vector<digest> subjects{m->digest};
        if (m->kind == manifest_kind::index) {
            tree.children = m->manifests;
            for (const auto& child : m->manifests)
                subjects.push_back(child.digest);
        }
        auto found = co_await discover_referrers(reg, ref.repository, std::move(subjects), context);
        if (!found) co_return fail("referrers", found.error());
        tree.discovery = std::move(*found);
        for (const auto& note : tree.discovery.notes)
            std::cerr << "syncer referrers: warning: " << safe_text(note) << "\n";
        if (f.format == "json") {
            auto out = referrers_tree_json(tree);
            scrub_secrets_in(out);
            // Registry text need not be UTF-8; what is not is replaced rather than failing the output.
            std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        } else {
            std::cout << referrers_tree_text(tree);
        }
        co_return exit_ok;
    });
}

} // namespace

std::function<int()> add_referrers_command(CLI::App& app) {
    auto flags = std::make_shared<query_flags>();
    auto* cmd = app.add_subcommand(
        "referrers",
        "List the signatures, SBOMs and attestations that refer to an image (and to each image of "
        "an index), as a tree");
    cmd->add_option("IMAGE", flags->target, "[docker://]host/repo:tag or @digest")->required();
    cmd->add_option("--format", flags->format, "text or json")->default_str("text");
    add_referrer_flags(*cmd, flags->referrers, false);
    add_query_flags(*cmd, *flags);
    return [flags] { return run_referrers(*flags); };
}

std::function<int()> add_catalog_command(CLI::App& app) {
    auto flags = std::make_shared<query_flags>();
    auto* cmd = app.add_subcommand("catalog", "List a registry's repositories (/v2/_catalog), one per line");
    cmd->add_option("REGISTRY", flags->target, "host[:port]")->required();
    add_query_flags(*cmd, *flags);
    return [flags] { return run_catalog(*flags); };
}

std::function<int()> add_inspect_command(CLI::App& app) {
    auto flags = std::make_shared<query_flags>();
    auto* cmd = app.add_subcommand("inspect", "Show an image's manifest or index and its digest");
    cmd->add_option("IMAGE", flags->target, "[docker://]host/repo:tag or @digest")->required();
    cmd->add_flag("--raw", flags->raw, "Print the manifest's exact bytes only");
    add_query_flags(*cmd, *flags);
    return [flags] { return run_inspect(*flags); };
}

std::function<int()> add_digest_command(CLI::App& app) {
    auto flags = std::make_shared<query_flags>();
    auto* cmd =
        app.add_subcommand("digest", "Print the digest of an image's manifest or index (one HEAD request)");
    cmd->add_option("IMAGE", flags->target, "[docker://]host/repo:tag")->required();
    add_query_flags(*cmd, *flags);
    return [flags] { return run_digest(*flags); };
}

std::function<int()> add_tags_command(CLI::App& app) {
    auto flags = std::make_shared<query_flags>();
    auto* cmd = app.add_subcommand("tags", "List a repository's tags, one per line");
    cmd->add_option("REPOSITORY", flags->target, "[docker://]host/repo")->required();
    add_query_flags(*cmd, *flags);
    return [flags] { return run_tags(*flags); };
}

} // namespace syncer
