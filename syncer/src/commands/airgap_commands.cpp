// `syncer export` (rules + auth -> one bundle) and `syncer import` (bundle -> registry under a prefix): both
// build sync rules and run them with run_sync_config, so the plan, --dry-run, the report, progress and exit
// codes are those of `syncer sync`. docs/airgap.md describes the workflow.
#include "commands/commands.hpp"
#include "commands/sync_command.hpp"
#include "credential_files.hpp"
#include "session.hpp"
#include "storage_registries.hpp"

#include <libregistry/core/transport.hpp>
#include <libregistry/storage/layout_format.hpp>
#include <libregistry/storage/oci_archive_registry.hpp>

#include <fmt/format.h>

#include <boost/asio/awaitable.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>

namespace syncer {

using namespace libregistry;

namespace {

struct export_flags {
    sync_flags run;
    std::string to;
    std::string since;
};

struct import_flags {
    sync_flags run;
    std::string bundle;
    std::string to;
};

/// `--to oci:DIR` / `oci-archive:FILE`: a bundle, with nothing after the path.
std::string bundle_name(const std::string& text, const std::string& what) {
    auto location = parse_image_location(text);
    if (!location) throw usage_error(fmt::format("{} {}: {}", what, text, location.error().message));
    if (!location->is_storage())
        throw usage_error(fmt::format("{} {}: expected a bundle, oci:DIR or oci-archive:FILE (.tar, .tar.gz, "
                                      ".tar.zst)",
                                      what, text));
    if (!location->ref.tag.empty() || location->ref.digest)
        throw usage_error(fmt::format("{} {}: a bundle holds many images; give only {}", what, text,
                                      location->ref.registry));
    return location->ref.registry;
}

/// The layout of a bundle opened as oci:DIR or oci-archive:FILE.
oci_layout_registry& layout_of(storage_registry& opened) {
    if (auto* layout = dynamic_cast<oci_layout_registry*>(&opened)) return *layout;
    if (auto* archive = dynamic_cast<oci_archive_registry*>(&opened)) return archive->layout();
    throw usage_error(fmt::format("{} is not a bundle: export, import and --since take oci:DIR or "
                                  "oci-archive:FILE",
                                  opened.name()));
}

/// `--since OLD`: the base bundle (oci:DIR, oci-archive:FILE) or a saved copy of its index.json, as the
/// record of a delta whose `omitted` is every blob the base has.
delta_record delta_base(const std::string& since) {
    delta_record out;
    out.base = since;
    std::string index;
    if (parse_storage_registry_name(since)) {
        const auto name = bundle_name(since, "--since");
        storage_registries base;
        auto& layout = layout_of(base.open(name, false));
        auto blobs = layout.blob_set();
        if (!blobs) throw usage_error(fmt::format("--since {}: {}", since, blobs.error().message));
        out.omitted = std::move(*blobs);
        std::ifstream in(layout.path() / "index.json", std::ios::binary);
        index.assign(std::istreambuf_iterator<char>(in), {});
        out.base_index = digest_of(index);
        return out;
    }
    std::ifstream in(since, std::ios::binary);
    if (!in)
        throw usage_error(fmt::format("--since {}: cannot read the file; give oci:DIR, oci-archive:FILE or a "
                                      "saved index.json of a bundle",
                                      since));
    std::string chunk(64 * 1024, '\0');
    while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
        index.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
        if (index.size() > max_layout_index_size)
            throw usage_error(fmt::format("--since {}: more than the {} bytes an index.json may have", since,
                                          max_layout_index_size));
    }
    auto blobs = parse_layout_blob_list(index, since);
    if (!blobs) throw usage_error(fmt::format("--since {}", blobs.error().message));
    if (!*blobs)
        throw usage_error(
            fmt::format("--since {}: this index.json has no {} annotation (syncer export did not "
                        "write it, or an older syncer did); give the bundle itself",
                        since, blob_list_annotation));
    out.omitted = std::move(**blobs);
    out.base_index = digest_of(index);
    return out;
}

int run_export(const export_flags& f) {
    use_log_format(f.run);
    const auto bundle = bundle_name(f.to, "--to");
    std::optional<delta_record> base;
    if (!f.since.empty()) {
        if (parse_storage_registry_name(f.since) && bundle_name(f.since, "--since") == bundle)
            throw usage_error(
                fmt::format("--since {}: a delta cannot be written into its own base", f.since));
        base = delta_base(f.since);
    }
    auto config = load_sync_files(f.run);
    // The images file of `sync`: its sources are exported, its destinations ignored. Each image goes into
    // the bundle under its source repository (without the host) and tag.
    for (auto& rule : config.images) {
        sync_destination destination;
        destination.registry = bundle;
        destination.repository = rule.source.repository;
        rule.destinations = {destination};
    }
    if (!base) return run_sync_config(std::move(config), f.run);
    storage_registries storage;
    layout_of(storage.open(bundle, true)).omit_base_blobs(std::move(*base));
    return run_sync_config(std::move(config), f.run, &storage);
}

int run_import(const import_flags& f) {
    use_log_format(f.run);
    const auto bundle = bundle_name(f.bundle, "bundle");
    // PREFIX: `registry.internal` or `registry.internal/mirror`; each image goes to PREFIX/REPOSITORY:TAG.
    std::string prefix_registry;
    std::string prefix_path;
    if (f.to.find('/') == std::string::npos) {
        auto probe = parse_repository(f.to + "/probe");
        if (!probe) throw usage_error(fmt::format("--to {}: {}", f.to, probe.error().message));
        prefix_registry = probe->registry;
    } else {
        auto prefix = parse_repository(f.to);
        if (!prefix) throw usage_error(fmt::format("--to {}: {}", f.to, prefix.error().message));
        prefix_registry = prefix->registry;
        prefix_path = prefix->repository;
    }
    sync_config config;
    if (!f.run.auth.empty()) {
        auto a = load_auth_file(f.run.auth, process_environment());
        if (!a) throw usage_error(a.error().message);
        warn_if_exposed(f.run.auth);
        config.auth = std::move(*a);
    }
    storage_registries storage;
    const auto* layout = &layout_of(storage.open(bundle, false));
    const auto repositories = layout->repositories();
    if (repositories.empty())
        throw usage_error(fmt::format("bundle {} holds no images syncer can name (no entry has the {} "
                                      "annotation); copy them one by one with syncer copy {}:TAG",
                                      bundle, repository_annotation, bundle));
    for (const auto& repository : repositories) {
        sync_rule rule;
        rule.source.registry = bundle;
        rule.source.repository = repository;
        rule.source.selector = tag_selector::all;
        rule.origin = fmt::format("{}:{}", bundle, repository);
        sync_destination destination;
        destination.registry = prefix_registry;
        destination.repository = prefix_path.empty() ? repository : prefix_path + "/" + repository;
        if (!is_valid_repository_path(destination.repository))
            throw usage_error(
                fmt::format("--to {}: {} is not a valid repository", f.to, destination.repository));
        rule.destinations.push_back(std::move(destination));
        config.images.push_back(std::move(rule));
    }
    if (!layout->delta()) return run_sync_config(std::move(config), f.run, &storage);
    // A delta: every blob it leaves out must be at the destination already (its base imported), or the
    // import stops before it writes anything.
    std::vector<std::string> targets;
    for (const auto& rule : config.images)
        targets.push_back(rule.destinations.front().repository);
    const auto& delta = *layout->delta();
    run_precheck check = [&](registry_provider& provider) -> boost::asio::awaitable<std::string> {
        auto& destination = provider.get(prefix_registry);
        std::vector<std::string> missing;
        for (const auto& d : delta.omitted) {
            bool found = false;
            for (const auto& repository : targets) {
                auto has = co_await destination.has_blob(repository, d);
                if (!has)
                    co_return fmt::format("bundle {} is a delta of {}: checking for blob {} in {}/{}: {}",
                                          bundle, delta.base, d.str(), prefix_registry, repository,
                                          has.error().message);
                if (*has) {
                    found = true;
                    break;
                }
            }
            if (!found) missing.push_back(d.str());
        }
        if (missing.empty()) co_return std::string();
        const auto shown = std::min<std::size_t>(missing.size(), 3);
        std::string list;
        for (std::size_t i = 0; i < shown; ++i)
            list += (i == 0 ? "" : ", ") + missing[i];
        if (missing.size() > shown) list += ", ...";
        co_return fmt::format(
            "bundle {} is a delta of base bundle {} (index.json {}): {} lacks {} of the {} blobs "
            "it leaves out ({}); import {} to {} first, then this bundle. Nothing was written",
            bundle, delta.base, delta.base_index.str(), f.to, missing.size(), delta.omitted.size(), list,
            delta.base, f.to);
    };
    return run_sync_config(std::move(config), f.run, &storage, check);
}

} // namespace

std::function<int()> add_export_command(CLI::App& app) {
    auto flags = std::make_shared<export_flags>();
    auto* cmd = app.add_subcommand(
        "export", "Write the images of an images file into one bundle (oci:DIR or oci-archive:FILE) to carry "
                  "across an air gap");
    cmd->add_option("--images", flags->run.images,
                    "Images file of sync; its sources are exported, its destinations ignored");
    cmd->add_option("--auth", flags->run.auth, "Registry credentials (image-syncer auth file)");
    cmd->add_option("--config", flags->run.config, "Combined file {auth: ..., images: ...}");
    cmd->add_option("--to", flags->to, "The bundle: oci:DIR, or oci-archive:FILE (.tar, .tar.gz, .tar.zst)")
        ->required();
    cmd->add_option(
        "--since", flags->since,
        "Write a delta: leave out the blobs of this earlier bundle (oci:DIR, oci-archive:FILE, or a "
        "saved copy of its index.json); manifests are always written");
    add_run_flags(*cmd, flags->run);
    cmd->add_option("--os", flags->run.os, "Keep only these OSes (as in sync)");
    cmd->add_option("--arch", flags->run.arch, "Keep only these architectures, arch[:variant] (as in sync)");
    return [flags] { return run_export(*flags); };
}

std::function<int()> add_import_command(CLI::App& app) {
    auto flags = std::make_shared<import_flags>();
    auto* cmd = app.add_subcommand(
        "import", "Copy every image of a bundle to a registry: REPOSITORY:TAG goes to PREFIX/REPOSITORY:TAG");
    cmd->add_option("BUNDLE", flags->bundle, "oci:DIR or oci-archive:FILE, as export wrote it")->required();
    cmd->add_option("--to", flags->to, "PREFIX: registry.internal or registry.internal/mirror")->required();
    cmd->add_option("--auth", flags->run.auth, "Registry credentials (image-syncer auth file)");
    add_run_flags(*cmd, flags->run);
    return [flags] { return run_import(*flags); };
}

} // namespace syncer
