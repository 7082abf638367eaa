// `syncer jobs` and `syncer sync-image`: flags and the pipelines' environment -> mirror_request -> sync rules
// and credentials -> run_sync_config, so the whole set of images is one plan in one process.
#include "commands/labnow_commands.hpp"
#include "commands/sync_command.hpp"
#include "config/sync_config.hpp"
#include "credential_files.hpp"
#include "labnow/labnow_jobs.hpp"
#include "labnow/labnow_mirror.hpp"
#include "session.hpp"
#include "text.hpp"

#include <fmt/format.h>

#include <iostream>
#include <memory>

namespace syncer {

using namespace libregistry;

namespace {

constexpr const char* default_workflow_file = ".github/workflows/build-docker.yml";

/// The first of `flag` and the variable `name` that is non-empty, else `fallback`.
std::string flag_or_env(const std::string& flag, const env_lookup& env, std::string_view name,
                        std::string_view fallback) {
    if (!flag.empty()) return flag;
    if (auto value = env(name); value && !value->empty()) return *value;
    return std::string(fallback);
}

struct mirror_flags {
    std::string source_registry;
    std::vector<std::string> targets;
    std::string auth_file;
    sync_flags run;
};

struct jobs_flags : mirror_flags {
    std::string workflow_file = default_workflow_file;
    std::string image_namespace;
};

struct sync_image_flags : mirror_flags {
    std::string image;
    std::vector<std::string> tags;
    bool tags_given = false;
    bool targets_given = false;
};

void add_mirror_flags(CLI::App& cmd, mirror_flags& f, const char* source_help, const char* target_help) {
    cmd.add_option("--source-registry", f.source_registry, source_help);
    // One value per occurrence, so a repeated flag cannot swallow the positional that follows it; none
    // (`--target-registry=` from an empty variable) is allowed here so the empty list gets its own message.
    cmd.add_option("--target-registry", f.targets, target_help)->type_size(0, 1)->allow_extra_args(false);
    cmd.add_option("--auth,--auth-file", f.auth_file,
                   "Credentials in image-syncer's auth format (.json/.yaml/.yml); default $FILE_AUTH. "
                   "Without one: $DOCKER_REGISTRY_USERNAME/_PASSWORD for the source and "
                   "$DOCKER_MIRROR_REGISTRY_USERNAME/_PASSWORD for the targets");
    add_run_flags(cmd, f.run);
}

/// The auth file (flag, else $FILE_AUTH) when there is one, else credentials from the environment.
std::vector<credential_rule> mirror_credentials(const mirror_flags& f, const env_lookup& env,
                                                const mirror_request& request) {
    const auto path = flag_or_env(f.auth_file, env, "FILE_AUTH", "");
    if (!path.empty()) {
        auto rules = load_auth_file(path, env);
        if (!rules) throw usage_error(rules.error().message);
        warn_if_exposed(path);
        return std::move(*rules);
    }
    auto rules = env_credentials(env, request);
    if (!rules) throw usage_error(rules.error().message);
    return std::move(*rules);
}

int run_mirror(const mirror_flags& f, const env_lookup& env, const mirror_request& request,
               std::string_view what) {
    auto rules = mirror_rules(request);
    if (!rules) throw usage_error(rules.error().message);
    sync_config config;
    config.images = std::move(*rules);
    config.auth = mirror_credentials(f, env, request);
    // One line saying what the run is about, before the per-image lines: CI logs are read from the top.
    if (f.run.log_format == "text") {
        std::string names;
        for (const auto& image : request.images)
            names.append(names.empty() ? "" : ", ").append(image.name);
        std::string targets;
        for (const auto& target : request.targets)
            targets.append(targets.empty() ? "" : ", ").append(target);
        std::cerr << "syncer " << what << ": " << request.images.size()
                  << (request.images.size() == 1 ? " image (" : " images (") << names << ") from "
                  << config.images.front().source.registry << "/" << request.image_namespace << " to "
                  << targets << "\n";
    }
    return run_sync_config(std::move(config), f.run);
}

int run_jobs(const jobs_flags& f) {
    use_log_format(f.run);
    const auto env = process_environment();
    mirror_request request;
    request.source_registry = flag_or_env(f.source_registry, env, "REGISTRY_URL", "docker.io");
    request.image_namespace = flag_or_env(f.image_namespace, env, "IMG_NAMESPACE", "library");
    auto targets = f.targets;
    if (auto mirrors = env("DOCKER_MIRROR_REGISTRY")) targets.push_back(*mirrors);
    request.targets = split_list(targets);
    // Checked before the workflow is read: the old script's worst trap was an empty list, which it turned
    // into destinations such as `/labnow/base`.
    if (request.targets.empty())
        throw usage_error("no target registry: give --target-registry HOST (repeatable, comma-separated) or "
                          "set DOCKER_MIRROR_REGISTRY; refusing to mirror to nowhere");
    auto images = load_workflow_images(f.workflow_file.empty() ? default_workflow_file : f.workflow_file);
    if (!images) throw usage_error(images.error().message);
    request.images = std::move(*images);
    return run_mirror(f, env, request, "jobs");
}

int run_sync_image(const sync_image_flags& f) {
    use_log_format(f.run);
    const auto env = process_environment();
    const auto slash = f.image.rfind('/');
    if (slash == std::string::npos || f.image.find_first_of(":@") != std::string::npos)
        throw usage_error(fmt::format("image \"{}\": expected NAMESPACE/NAME, e.g. labnow/base (tags go in "
                                      "--tags)",
                                      f.image));
    mirror_request request;
    request.image_namespace = f.image.substr(0, slash);
    const auto name = f.image.substr(slash + 1);
    if (!is_repository_path(name))
        throw usage_error(fmt::format("image \"{}\": \"{}\" is not an image repository name", f.image, name));
    request.images.push_back({name, "command line"});
    request.source_registry = f.source_registry.empty() ? "docker.io" : f.source_registry;
    request.targets = split_list(f.targets);
    if (request.targets.empty() && f.targets_given)
        throw usage_error("no target registry: --target-registry is empty; leave it out for the default "
                          "(the Aliyun registries)");
    if (request.targets.empty())
        request.targets = {"registry.cn-hangzhou.aliyuncs.com", "registry.cn-beijing.aliyuncs.com"};
    request.tags = split_list(f.tags);
    if (f.tags_given && (!f.run.include_tags.empty() || !f.run.exclude_tags.empty() || f.run.latest > 0))
        throw usage_error(
            "--tags names the tags to mirror; --include-tags, --exclude-tags and --latest select "
            "among every tag: give one or the other");
    // `--tags=$TAGS` with TAGS unset must not turn into every tag.
    if (request.tags.empty() && f.tags_given)
        throw usage_error("--tags is empty; leave it out to mirror every tag");
    return run_mirror(f, env, request, "sync-image");
}

} // namespace

std::function<int()> add_jobs_command(CLI::App& app) {
    auto flags = std::make_shared<jobs_flags>();
    auto* cmd = app.add_subcommand(
        "jobs",
        "Mirror every image the jobs of a build workflow name (LabNow pipelines; replaces run_jobs.py)");
    cmd->add_option("--workflow-file", flags->workflow_file,
                    "Workflow whose top-level jobs name the images (`name: 'atom,base'`)")
        ->default_str(default_workflow_file);
    cmd->add_option("--image-namespace", flags->image_namespace,
                    "Namespace of the images on every registry; default $IMG_NAMESPACE, else library");
    add_mirror_flags(*cmd, *flags,
                     "Registry the images were pushed to; default $REGISTRY_URL, else docker.io",
                     "Mirror registry, repeatable and comma-separated; added to $DOCKER_MIRROR_REGISTRY");
    return [flags] { return run_jobs(*flags); };
}

std::function<int()> add_sync_image_command(CLI::App& app) {
    auto flags = std::make_shared<sync_image_flags>();
    auto* cmd = app.add_subcommand(
        "sync-image",
        "Mirror one image, every tag or the listed ones (LabNow pipelines; replaces run_sync.py)");
    cmd->add_option("IMAGE", flags->image, "NAMESPACE/NAME, e.g. labnow/base")->required();
    cmd->add_option("--tags", flags->tags, "Only these tags (repeatable, comma-separated); default every tag")
        ->type_size(0, 1)
        ->allow_extra_args(false);
    add_mirror_flags(
        *cmd, *flags, "Registry to copy from; default docker.io",
        "Mirror registry, repeatable and comma-separated; default registry.cn-hangzhou.aliyuncs.com "
        "and registry.cn-beijing.aliyuncs.com");
    return [flags, cmd] {
        flags->tags_given = cmd->count("--tags") > 0;
        flags->targets_given = cmd->count("--target-registry") > 0;
        return run_sync_image(*flags);
    };
}

} // namespace syncer
