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

#include <memory>

namespace syncer {

using namespace libregistry;

namespace {

struct export_flags {
    sync_flags run;
    std::string to;
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

int run_export(const export_flags& f) {
    use_log_format(f.run);
    const auto bundle = bundle_name(f.to, "--to");
    auto config = load_sync_files(f.run);
    // The images file of `sync`: its sources are exported, its destinations ignored. Each image goes into
    // the bundle under its source repository (without the host) and tag.
    for (auto& rule : config.images) {
        sync_destination destination;
        destination.registry = bundle;
        destination.repository = rule.source.repository;
        rule.destinations = {destination};
    }
    return run_sync_config(std::move(config), f.run);
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
    auto& opened = storage.open(bundle, false);
    const auto* layout = dynamic_cast<oci_layout_registry*>(&opened);
    if (layout == nullptr) layout = &dynamic_cast<oci_archive_registry&>(opened).layout();
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
    return run_sync_config(std::move(config), f.run, &storage);
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
