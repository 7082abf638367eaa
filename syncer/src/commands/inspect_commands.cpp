// `syncer inspect`, `syncer digest`, `syncer tags`, `syncer catalog`, `syncer referrers`: read-only queries.
#include "commands/commands.hpp"
#include "commands/common_flags.hpp"
#include "commands/multi_arch.hpp"
#include "commands/referrer_flags.hpp"
#include "output/go_format.hpp"
#include "output/inspect_template.hpp"
#include "output/logger.hpp"
#include "output/referrers_output.hpp"
#include "session.hpp"
#include "storage_registries.hpp"
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
    std::string inspect_format; ///< inspect --format: skopeo's template or json; "" for syncer's own output
    bool config = false;        ///< inspect --config
    bool no_tags = false;       ///< inspect --no-tags
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

// Larger than any image config seen in practice; a registry cannot make syncer hold more.
constexpr std::size_t max_config_size = 16 * 1024 * 1024;

/// The blob `desc` of `repository`, whole, checked against its digest.
asio::awaitable<result<std::string>> read_small_blob(registry& reg, std::string repository, descriptor desc) {
    auto reader = co_await reg.get_blob(repository, desc);
    if (!reader) co_return reader.error();
    std::string bytes;
    std::vector<std::byte> buffer(64 * 1024);
    for (;;) {
        auto n = co_await (*reader)->read(std::span<std::byte>(buffer));
        if (!n) co_return n.error();
        if (*n == 0) break;
        bytes.append(reinterpret_cast<const char*>(buffer.data()), *n);
        if (bytes.size() > max_config_size)
            co_return make_error(errc::invalid_argument,
                                 fmt::format("{}@{}: the config is larger than {} bytes", repository,
                                             desc.digest.str(), max_config_size));
    }
    if (digest_of(bytes) != desc.digest)
        co_return make_error(
            errc::digest_invalid,
            fmt::format("{}@{}: the config's bytes do not match its digest", repository, desc.digest.str()));
    co_return bytes;
}

/// skopeo's inspect: an index stands for its image for this machine's platform (as skopeo picks it); the
/// digest is the index's own.
int run_inspect_skopeo(const query_flags& f) {
    std::optional<inspect_template> tmpl;
    if (!f.config) {
        auto parsed = inspect_template::parse(f.inspect_format.empty() ? "json" : f.inspect_format);
        if (!parsed) throw usage_error(parsed.error().message);
        tmpl = std::move(*parsed);
    }
    session s(f.retry_times);
    storage_registries storage;
    const auto target = open_image_argument(s, storage, f.target, f.endpoint, false);
    const auto& ref = target.location.ref;
    auto& reg = target.reg;
    return s.run([&]() -> asio::awaitable<int> {
        auto top = co_await reg.get_manifest(ref.repository, ref.identifier());
        if (!top) co_return fail("inspect", top.error());
        manifest image = *top;
        const auto wanted = this_machine_platform();
        // Nested indexes are followed as skopeo does: the first entry for the platform, one level at a time.
        for (int depth = 0; image.kind == manifest_kind::index; ++depth) {
            auto p = parse_platform(wanted);
            const descriptor* chosen = nullptr;
            for (const auto& entry : image.manifests)
                if (entry.platform && p && platform_matches(*p, *entry.platform)) {
                    chosen = &entry;
                    break;
                }
            if (!chosen || depth > 4) {
                std::cerr << fmt::format("syncer inspect: {} has no image for {}, the platform skopeo would "
                                         "show; syncer inspect --raw prints the index\n",
                                         target.location.str(), wanted);
                co_return exit_failed;
            }
            auto child = co_await reg.get_manifest(ref.repository, chosen->digest.str());
            if (!child) co_return fail("inspect", child.error());
            image = std::move(*child);
        }
        if (!image.config) {
            std::cerr << fmt::format("syncer inspect: {} is not an image with a config ({})\n",
                                     target.location.str(), safe_text(image.media_type));
            co_return exit_failed;
        }
        auto config = co_await read_small_blob(reg, ref.repository, *image.config);
        if (!config) co_return fail("inspect", config.error());
        if (f.config) {
            if (f.raw) {
                std::cout << *config << std::flush;
                co_return exit_ok;
            }
            auto out = inspect_config_json(*config);
            if (!out) co_return fail("inspect", out.error());
            std::cout << *out << std::flush;
            co_return exit_ok;
        }
        inspect_info info;
        info.name = target.name();
        info.digest = top->digest.str();
        if (auto r = read_inspect_config(*config, info); !r) co_return fail("inspect", r.error());
        for (const auto& layer : image.layers)
            info.layers.push_back(layer.digest.str());
        if (!f.no_tags) {
            auto tags = co_await reg.list_tags(ref.repository);
            if (!tags) co_return fail("inspect", tags.error());
            info.repo_tags = std::move(*tags);
        }
        auto out = tmpl->render(info);
        if (!out) co_return fail("inspect", out.error());
        std::cout << *out << std::flush;
        co_return exit_ok;
    });
}

int run_inspect(const query_flags& f) {
    if (f.raw && !f.inspect_format.empty())
        throw usage_error("--raw prints the manifest's bytes; it takes no --format");
    if (f.config && !f.inspect_format.empty())
        throw usage_error("--config prints the image config; it takes no --format");
    if (f.config || !f.inspect_format.empty()) return run_inspect_skopeo(f);
    session s(f.retry_times);
    storage_registries storage;
    const auto target = open_image_argument(s, storage, f.target, f.endpoint, false);
    const auto& ref = target.location.ref;
    auto& reg = target.reg;
    return s.run([&]() -> asio::awaitable<int> {
        auto m = co_await reg.get_manifest(ref.repository, ref.identifier());
        if (!m) co_return fail("inspect", m.error());
        if (f.raw) {
            std::cout << m->bytes;
            std::cout.flush();
            co_return exit_ok;
        }
        nlohmann::ordered_json out;
        out["name"] = target.name();
        out["digest"] = m->digest.str();
        out["mediaType"] = m->media_type;
        out["size"] = m->bytes.size();
        out["manifest"] = nlohmann::ordered_json::parse(m->bytes, nullptr, false);
        std::cout << out.dump(2) << "\n";
        co_return exit_ok;
    });
}

int run_digest(const query_flags& f) {
    session s(f.retry_times);
    storage_registries storage;
    const auto target = open_image_argument(s, storage, f.target, f.endpoint, false);
    const auto& ref = target.location.ref;
    auto& reg = target.reg;
    return s.run([&]() -> asio::awaitable<int> {
        auto d = co_await reg.head_manifest(ref.repository, ref.identifier());
        if (!d) co_return fail("digest", d.error());
        if (!*d) {
            std::cerr << fmt::format("syncer digest: {} not found\n", target.location.str());
            co_return exit_failed;
        }
        std::cout << (*d)->digest.str() << "\n";
        co_return exit_ok;
    });
}

int run_tags(const query_flags& f) {
    if (f.format != "text" && f.format != "json")
        throw usage_error(fmt::format("--format {}: expected text or json", f.format));
    session s(f.retry_times);
    storage_registries storage;
    const auto target = open_image_argument(s, storage, f.target, f.endpoint, false, true);
    auto& reg = target.reg;
    return s.run([&]() -> asio::awaitable<int> {
        auto tags = co_await reg.list_tags(target.location.ref.repository);
        if (!tags) co_return fail("tags", tags.error());
        if (f.format == "json") {
            // skopeo list-tags' shape, byte for byte.
            nlohmann::ordered_json out;
            out["Repository"] = target.name();
            out["Tags"] = *tags;
            std::cout << go_json_indent(out) << "\n";
            co_return exit_ok;
        }
        for (const auto& t : *tags)
            std::cout << t << "\n";
        co_return exit_ok;
    });
}

/// `syncer catalog oci:DIR` (`oci-archive:FILE`, `docker-archive:FILE`): the repositories of a bundle.
int run_bundle_catalog(const query_flags& f) {
    auto location = parse_image_location(f.target);
    if (!location) throw usage_error(fmt::format("invalid bundle: {}", location.error().message));
    if (location->named || !location->ref.tag.empty() || location->ref.digest)
        throw usage_error(fmt::format("{}: catalog lists a whole bundle; name it alone, as {}", f.target,
                                      location->ref.registry));
    storage_registries storage;
    const auto& bundle = storage.open(location->ref.registry, false);
    for (const auto& r : bundle.repositories())
        std::cout << safe_text(r) << "\n";
    std::cout.flush();
    return exit_ok;
}

int run_catalog(const query_flags& f) {
    if (f.target.starts_with("oci:") || f.target.starts_with("oci-archive:") ||
        f.target.starts_with("docker-archive:"))
        return run_bundle_catalog(f);
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
    referrers_context context(parse_referrer_flags(f.referrers));
    session s(f.retry_times);
    storage_registries storage;
    const auto target = open_image_argument(s, storage, f.target, f.endpoint, false);
    const auto& ref = target.location.ref;
    auto& reg = target.reg;
    return s.run([&]() -> asio::awaitable<int> {
        auto m = co_await reg.get_manifest(ref.repository, ref.identifier());
        if (!m) co_return fail("referrers", m.error());
        referrers_tree tree;
        tree.image = target.location.str();
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
    cmd->add_option("IMAGE", flags->target,
                    "[docker://]host/repo:tag or @digest, oci:DIR:[REPO:]TAG, oci-archive:FILE:[REPO:]TAG, "
                    "docker-archive:FILE:NAME:TAG")
        ->required();
    cmd->add_option("--format", flags->format, "text or json")->default_str("text");
    add_referrer_flags(*cmd, flags->referrers, false);
    add_query_flags(*cmd, *flags);
    return [flags] { return run_referrers(*flags); };
}

std::function<int()> add_catalog_command(CLI::App& app) {
    auto flags = std::make_shared<query_flags>();
    auto* cmd = app.add_subcommand(
        "catalog", "List a registry's repositories (/v2/_catalog), or a bundle's, one per line");
    cmd->add_option("REGISTRY", flags->target,
                    "host[:port], oci:DIR, oci-archive:FILE or docker-archive:FILE")
        ->required();
    add_query_flags(*cmd, *flags);
    return [flags] { return run_catalog(*flags); };
}

std::function<int()> add_inspect_command(CLI::App& app) {
    auto flags = std::make_shared<query_flags>();
    auto* cmd = app.add_subcommand("inspect", "Show an image's manifest or index and its digest");
    cmd->add_option("IMAGE", flags->target,
                    "[docker://]host/repo:tag or @digest, oci:DIR:[REPO:]TAG, oci-archive:FILE:[REPO:]TAG, "
                    "docker-archive:FILE:NAME:TAG")
        ->required();
    cmd->add_flag("--raw", flags->raw, "Print the manifest's exact bytes only (with --config: the config's)");
    cmd->add_option("--format,-f", flags->inspect_format,
                    "skopeo's output: json, or a Go template such as {{.Digest}}, {{.Labels}}, "
                    "{{index .Labels \"key\"}}, {{range .RepoTags}}{{.}} {{end}} (fields: Name, Digest, "
                    "RepoTags, Created, DockerVersion, Labels, Architecture, Os, Layers, Env)");
    cmd->add_flag("--config", flags->config, "Print the image config as skopeo inspect --config does");
    cmd->add_flag("--no-tags,-n", flags->no_tags, "With --format: leave RepoTags empty (no tag listing)");
    add_query_flags(*cmd, *flags);
    return [flags] { return run_inspect(*flags); };
}

std::function<int()> add_digest_command(CLI::App& app) {
    auto flags = std::make_shared<query_flags>();
    auto* cmd =
        app.add_subcommand("digest", "Print the digest of an image's manifest or index (one HEAD request)");
    cmd->add_option("IMAGE", flags->target,
                    "[docker://]host/repo:tag, oci:DIR:[REPO:]TAG, oci-archive:FILE:[REPO:]TAG, "
                    "docker-archive:FILE:NAME:TAG")
        ->required();
    add_query_flags(*cmd, *flags);
    return [flags] { return run_digest(*flags); };
}

std::function<int()> add_tags_command(CLI::App& app) {
    auto flags = std::make_shared<query_flags>();
    auto* cmd = app.add_subcommand("tags", "List a repository's tags, one per line");
    cmd->add_option(
           "REPOSITORY", flags->target,
           "[docker://]host/repo, oci:DIR[:REPO], oci-archive:FILE[:REPO], docker-archive:FILE[:NAME]")
        ->required();
    cmd->add_option("--format", flags->format,
                    "text (one tag per line) or json (skopeo list-tags' {\"Repository\", \"Tags\"})")
        ->default_str("text");
    add_query_flags(*cmd, *flags);
    return [flags] { return run_tags(*flags); };
}

} // namespace syncer
