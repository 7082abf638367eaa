// `syncer sync`: image-syncer's flags and files -> sync_options and rules -> libregistry::run_sync.
#include "commands/sync_command.hpp"
#include "commands/commands.hpp"
#include "commands/common_flags.hpp"
#include "config/sync_config.hpp"
#include "credential_files.hpp"
#include "output/logger.hpp"
#include "output/metrics_file.hpp"
#include "output/private_file.hpp"
#include "output/progress.hpp"
#include "output/rules_plan.hpp"
#include "output/summary.hpp"
#include "output/sync_report.hpp"
#include "session.hpp"
#include "storage_registries.hpp"
#include "text.hpp"

#include <libregistry/core/transport.hpp>

#include <libregistry/core/redact.hpp>
#include <libregistry/sync/sync_runner.hpp>
#include <libregistry/sync/tag_policy.hpp>

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <tuple>

namespace syncer {

namespace asio = boost::asio;
using namespace libregistry;

// --os and --arch (`arch[:variant]`) become platform filters: every os with every arch.
std::vector<platform> platform_filters(const std::vector<std::string>& os_flags,
                                       const std::vector<std::string>& arch_flags) {
    auto oses = split_list(os_flags);
    auto arches = split_list(arch_flags);
    if (oses.empty() && arches.empty()) return {};
    if (oses.empty()) oses.push_back("");
    if (arches.empty()) arches.push_back("");
    std::vector<platform> out;
    for (const auto& os : oses)
        for (const auto& arch : arches) {
            platform p;
            p.os = os;
            auto colon = arch.find_first_of(":/");
            p.architecture = arch.substr(0, colon);
            if (colon != std::string::npos) p.variant = arch.substr(colon + 1);
            out.push_back(p);
        }
    return out;
}

class session_provider final : public registry_provider {
public:
    session_provider(session& s, std::vector<credential_rule> rules, std::vector<std::string> auth_files)
        : session_(s), rules_(std::move(rules)), auth_files_(std::move(auth_files)) {}

    /// Layouts and archives (`oci:DIR`, ...) come from here instead of the network.
    storage_registries* storage = nullptr;

    registry& get(const std::string& name) override {
        if (storage != nullptr)
            if (auto* found = storage->find(name)) return *found;
        auto it = opened_.find(name);
        if (it != opened_.end()) return *it->second;
        remote_options options;
        options.registry = name;
        options.credential_rules = rules_;
        options.auth_files = auth_files_;
        options.insecure = registry_is_insecure(rules_, name);
        for (const auto& file : options.auth_files)
            warn_if_exposed(file);
        http::host_settings tls;
        tls.insecure = options.insecure;
        tls.tls_verify = !options.insecure;
        auto& reg = session_.open(std::move(options), tls);
        opened_.emplace(name, &reg);
        return reg;
    }

private:
    session& session_;
    std::vector<credential_rule> rules_;
    std::vector<std::string> auth_files_;
    std::map<std::string, registry*> opened_;
};

namespace {

std::vector<std::string> run_auth_files(const std::string& authfile) {
    if (authfile.empty()) return default_auth_files();
    std::error_code ec;
    if (!std::filesystem::exists(authfile, ec))
        throw usage_error(fmt::format("--authfile {}: the file does not exist", authfile));
    return {authfile};
}

} // namespace

std::unique_ptr<registry_provider> make_session_provider(session& s, std::vector<credential_rule> rules,
                                                         const std::string& authfile,
                                                         storage_registries* storage) {
    auto provider = std::make_unique<session_provider>(s, std::move(rules), run_auth_files(authfile));
    provider->storage = storage;
    return provider;
}

std::vector<platform> run_platforms(const sync_flags& f) {
    auto out = platform_filters(f.os, f.arch);
    for (auto& p : parse_platform_flags(f.platforms))
        out.push_back(std::move(p));
    return out;
}

sync_config load_sync_files(const sync_flags& f) {
    auto env = process_environment();
    sync_config config;
    if (!f.config.empty()) {
        auto c = load_config_file(f.config, env);
        if (!c) throw usage_error(c.error().message);
        if (!c->auth.empty()) warn_if_exposed(f.config);
        config = std::move(*c);
    }
    if (!f.auth.empty()) {
        auto a = load_auth_file(f.auth, env);
        if (!a) throw usage_error(a.error().message);
        warn_if_exposed(f.auth);
        config.auth.insert(config.auth.end(), a->begin(), a->end());
    }
    if (!f.images.empty()) {
        auto i = load_images_file(f.images, env);
        if (!i) throw usage_error(i.error().message);
        config.images.insert(config.images.end(), i->begin(), i->end());
    }
    if (f.config.empty() && f.images.empty())
        throw usage_error("nothing to sync: give --images FILE (and --auth FILE), or --config FILE");
    return config;
}

void use_log_format(const sync_flags& f) {
    if (f.log_format != "text" && f.log_format != "json")
        throw usage_error(fmt::format("--log-format {}: expected text or json", f.log_format));
    set_stderr_json(f.log_format == "json");
}

int run_sync_command(const sync_flags& f) {
    // Before the files are read: their errors and warnings are log lines too.
    use_log_format(f);
    return run_sync_config(load_sync_files(f), f);
}

tag_policy run_tag_policy(const sync_flags& f) {
    tag_policy policy;
    for (const auto& [values, list, flag] :
         {std::tuple{&f.include_tags, &policy.include, "--include-tags"},
          std::tuple{&f.exclude_tags, &policy.exclude, "--exclude-tags"}}) {
        for (const auto& value : *values) {
            auto entries = split_tag_patterns(value);
            list->insert(list->end(), entries.begin(), entries.end());
        }
        tag_policy alone;
        alone.include = *list;
        if (auto ok = check_tag_policy(alone); !ok)
            throw usage_error(fmt::format("{}: {}", flag, ok.error().message));
    }
    if (f.latest > 0) policy.latest = f.latest;
    return policy;
}

namespace {

// --check: what the run would find wrong in the rules before its first request, found without one: the tag
// selection of every rule against empty tag lists (a bad regex or policy, a tag-list length mismatch), the
// auth file, the output paths' directories; then the rules as the run would follow them.
int check_rules(const std::vector<sync_rule>& rules, const sync_options& options, const sync_flags& f) {
    tag_lists empty;
    for (const auto& source : repositories_to_list(rules))
        empty.emplace(source.name(), std::vector<std::string>{});
    if (auto items = expand_rules(rules, empty); !items) throw usage_error(items.error().message);
    run_auth_files(f.authfile);
    for (const auto& [path, flag] :
         {std::pair{f.report, "--report"}, std::pair{f.output_success, "--output-success-images"},
          std::pair{f.output_failed, "--output-failed-images"}, std::pair{f.metrics_file, "--metrics-file"},
          std::pair{f.log, "--log"}}) {
        if (path.empty()) continue;
        auto dir = std::filesystem::path(path).parent_path();
        std::error_code ec;
        if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
            throw usage_error(
                fmt::format("{} {}: the directory {} does not exist", flag, path, dir.string()));
    }
    std::cout << rules_plan_text(rules, options);
    return exit_ok;
}

} // namespace

int run_sync_config(sync_config config, const sync_flags& f, storage_registries* opened,
                    const run_precheck& precheck) {
    // Known before any registry is asked, so that no output can quote them, whatever a registry echoes.
    for (const auto& rule : config.auth) {
        known_secrets().add_basic(rule.cred.username, rule.cred.password);
        known_secrets().add(rule.cred.identity_token);
    }
    if (f.output_format != "yaml" && f.output_format != "json")
        throw usage_error(fmt::format("--output-images-format {}: expected yaml or json", f.output_format));
    use_log_format(f);

    apply_run_policy(config.images, run_tag_policy(f));
    const auto limits = parse_run_limits(f.limits);
    sync_options options;
    options.proc = std::max(f.proc, 1);
    options.retries = std::max(f.retries, 0);
    options.force = f.force;
    options.dry_run = f.dry_run;
    options.copy.jobs = std::max<std::size_t>(f.jobs, 1);
    options.metadata_concurrency = capped(options.metadata_concurrency, f.max_concurrency);
    options.blob_concurrency = capped(options.blob_concurrency, f.max_blob_concurrency);
    // One attempt budget for a request, whichever level retries it (the session below uses the same).
    options.copy.retry.max_attempts = options.retries + 1;
    options.copy.platforms = run_platforms(f);
    // For rules without their own `referrers:`.
    options.referrers = parse_referrer_flags(f.referrers);
    auto guard = parse_prune_guard(f.prune_max);
    if (!guard) throw usage_error(guard.error().message);
    options.prune_max = *guard;
    if (!f.shard.empty()) {
        auto s = parse_shard(f.shard);
        if (!s) throw usage_error(s.error().message);
        options.shard = *s;
    }
    if (f.prune)
        for (auto& rule : config.images)
            rule.prune = true;
    if (f.check) return check_rules(config.images, options, f);

    std::FILE* log_file = stderr;
    // Every output path is checked before any registry is contacted, so a mistyped one costs no run.
    for (const auto& [path, flag] :
         {std::pair{f.report, "--report"}, std::pair{f.output_success, "--output-success-images"},
          std::pair{f.output_failed, "--output-failed-images"}})
        if (!path.empty()) open_private(path, true, flag);
    if (!f.metrics_file.empty()) check_metrics_path(f.metrics_file);
    file_ptr owned_log(nullptr, &std::fclose);
    if (!f.log.empty()) {
        owned_log = open_private(f.log, true, "--log");
        log_file = owned_log.get();
    }
    logger log(f.log_format == "json", log_file);
    bool live = f.log.empty() && f.log_format == "text" && progress::stderr_is_terminal();
    progress bar(!live, live, progress::style::sync);
    std::size_t done = 0;
    std::size_t total = 0;
    options.copy.on_event = [&](const copy_event& e) { bar.on_event(e); };
    options.on_event = [&](const sync_event& e) {
        if (e.what == sync_event::kind::warning) {
            bar.finish();
            log.warning(e.message, {{"event", "warning"}});
            return;
        }
        if (e.what == sync_event::kind::planned) {
            total = e.total;
            bar.images(done, total);
            return;
        }
        // Images a stop left untouched are counted in the closing lines and the report, not one by one.
        bool untouched = e.image->status == image_status::interrupted && e.image->attempts == 0;
        if ((e.image->status != image_status::skipped || !live) && !untouched) {
            bar.finish();
            log_image(log, *e.image);
        }
        if (e.image->status != image_status::skipped && !untouched) bar.images(++done, total);
    };

    session s(f.retries, limits.min_rate);
    s.timeout = limits.timeout;
    s.max_wait = limits.max_wait;
    // No more connections ahead of the first requests than the metadata limit lets start at once.
    s.warm_connections = options.metadata_concurrency.start;
    options.stop = s.stop_token();
    session_provider provider(s, config.auth, run_auth_files(f.authfile));
    auto rules = std::move(config.images);
    const auto started = std::chrono::steady_clock::now();
    // --metrics-file, whatever the outcome: a run that failed keeps the last success of the previous file.
    std::vector<registry_concurrency> concurrency; // the run's, once it has ended
    const auto write_metrics = [&](const sync_totals& totals, int status) {
        if (f.metrics_file.empty()) return status;
        run_metrics m;
        m.totals = totals;
        m.concurrency = concurrency;
        m.duration_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        m.succeeded = status == exit_ok && s.stopped_by().empty() && !f.dry_run;
        m.finished_at =
            std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
        for (auto& [name, stats] : s.registry_stats())
            m.registries.push_back({name, stats});
        try {
            write_metrics_file(f.metrics_file, metrics_text(with_last_success(std::move(m), f.metrics_file)));
        } catch (const usage_error& e) {
            log.error(e.what());
            return status == exit_ok ? int(exit_failed) : status;
        }
        return status;
    };
    // Layouts and archives are opened before the run, so a missing or bad one stops it before any registry
    // is asked: sources for reading, destinations for writing (one writer per bundle, every image of every
    // rule into it). A dry run only reads a destination, and plans against an empty one that does not exist
    // yet, so it creates nothing.
    storage_registries own_storage;
    auto& storage = opened != nullptr ? *opened : own_storage;
    provider.storage = &storage;
    for (const auto& rule : rules)
        for (const auto& destination : rule.destinations)
            if (parse_storage_registry_name(destination.registry)) {
                if (f.dry_run)
                    storage.open_for_planning(destination.registry);
                else
                    storage.open(destination.registry, true);
            }
    // docker save's format has no place for an artifact: a rule writing to a docker archive leaves its
    // referrers behind, said once per rule rather than failing every signed image.
    for (auto& rule : rules) {
        const bool docker_archive =
            std::any_of(rule.destinations.begin(), rule.destinations.end(), [](const auto& d) {
                auto storage_name = parse_storage_registry_name(d.registry);
                return storage_name && storage_name->first == transport_kind::docker_archive;
            });
        const auto& policy = rule.referrers ? *rule.referrers : options.referrers;
        if (!docker_archive || !policy.enabled) continue;
        log.warning(
            fmt::format("{}: a docker archive cannot hold referrers (signatures, SBOMs, attestations): "
                        "this rule's are not carried; write oci-archive: to keep them, or set "
                        "referrers: false",
                        rule.origin),
            {{"event", "warning"}});
        // Excluded rather than off: the rule's tags of the tag schema and cosign still stay with their
        // subjects instead of going into the archive as images of their own.
        rule.referrers = policy;
        rule.referrers->exclude_types = {"/.*/"};
    }
    for (const auto& rule : rules)
        if (parse_storage_registry_name(rule.source.registry)) {
            if (storage.find(rule.source.registry) != nullptr)
                for (const auto& d : rule.destinations)
                    if (d.registry == rule.source.registry)
                        throw usage_error(fmt::format("{}: {} is both the source and the destination",
                                                      rule.origin, rule.source.registry));
            storage.open(rule.source.registry, false);
        }
    return s.run([&]() -> asio::awaitable<int> {
        if (precheck) {
            auto problem = co_await precheck(provider);
            if (!problem.empty()) {
                bar.finish();
                log.error(problem, {{"event", "config_error"}});
                co_return write_metrics(sync_totals{}, exit_usage);
            }
        }
        auto r = co_await run_sync(std::move(rules), provider, options);
        bar.finish();
        if (!r) {
            log.error(r.error().message, {{"event", "config_error"}});
            co_return write_metrics(sync_totals{}, exit_usage);
        }
        const auto& report = *r;
        concurrency = report.concurrency;
        const std::string signal = s.stopped_by();
        // Bundles are written once, at the end, naming only complete images: after a failed image or a stop
        // too, so what was copied is kept (a rerun adds the rest).
        bool bundle_failed = false;
        if (!f.dry_run)
            if (auto finished = storage.finish(); !finished) {
                log.error(finished.error().message, {{"event", "bundle_error"}});
                bundle_failed = true;
            }
        if (f.dry_run) std::cout << plan_text(report);
        if (!f.report.empty())
            write_private(f.report, report_json(report, f.dry_run, signal, s.registry_stats()).dump(2) + "\n",
                          "the report");
        // Interrupted images go with the failed ones, so `--images FAILED` finishes the run. Excluded ones
        // (nothing matched the platform filter) go in neither: nothing was copied, and nothing failed.
        std::vector<sync_item> succeeded, failed;
        for (const auto& img : report.images) {
            if (img.status == image_status::failed || img.status == image_status::interrupted)
                failed.push_back(img.item);
            else if (img.status != image_status::planned && img.status != image_status::excluded)
                succeeded.push_back(img.item);
        }
        auto format = f.output_format == "json" ? file_format::json : file_format::yaml;
        if (!f.output_success.empty())
            write_private(f.output_success, scrub_secrets(render_images(succeeded, format)),
                          "succeeded images");
        if (!f.output_failed.empty())
            write_private(f.output_failed, scrub_secrets(render_images(failed, format)), "failed images");
        if (!f.dry_run) log_deletions(log, report);
        log_summary(log, report, bar.tally().moved(), signal, f.report);
        if (!signal.empty()) {
            auto line = interrupted_text(report, s.stop_text());
            if (!f.report.empty()) line += "; report in " + f.report;
            const nlohmann::ordered_json fields = {{"event", "interrupted"}, {"cause", signal}};
            log.error(line, fields);
            if (log_file != stderr) stderr_line("error", "interrupted", "syncer: " + line, line, fields);
        }
        // After a signal, session::run exits 128 + its number whatever this says; after --timeout, 1 at
        // least.
        // A refused or failed prune needs a look as much as a failed image does.
        const int status = bundle_failed || report.totals.failed > 0 || report.totals.interrupted > 0 ||
                                   pruning_failed(report)
                               ? exit_failed
                               : exit_ok;
        co_return write_metrics(report.totals, status);
    });
}

void add_run_flags(CLI::App& cmd, sync_flags& f) {
    cmd.add_option("--proc,-p", f.proc, "Images copied in parallel")->check(CLI::Range(1, 1024));
    add_retries_flag(cmd, f.retries, "Further rounds for failed images, and retries per request", true);
    cmd.add_option("--jobs,-j", f.jobs, "Blobs copied in parallel per image")->check(CLI::Range(1, 256));
    cmd.add_option("--max-concurrency", f.max_concurrency,
                   fmt::format("The most manifest, tag list and HEAD requests in flight per registry; the "
                               "limit adapts between 1 and N (default: starts at {}, grows to {})",
                               default_metadata_concurrency.start, default_metadata_concurrency.cap))
        ->check(CLI::Range(1, 1024))
        ->default_str("");
    cmd.add_option("--max-blob-concurrency", f.max_blob_concurrency,
                   fmt::format("The most blob transfers in flight per registry; the limit adapts between 1 "
                               "and N (default: starts at {}, grows to {})",
                               default_blob_concurrency.start, default_blob_concurrency.cap))
        ->check(CLI::Range(1, 1024))
        ->default_str("");
    cmd.add_flag("--force", f.force, "Push manifests even when the destination already has the same digest");
    cmd.add_option("--log", f.log, "Write log lines to FILE (appending) instead of stderr");
    cmd.add_option("--log-format", f.log_format, "text or json")->default_str("text");
    cmd.add_flag("--dry-run", f.dry_run, "Print the plan and change nothing");
    cmd.add_flag("--check", f.check,
                 "Validate every file, variable, rule and flag, print the rules, and stop: no registry is "
                 "contacted (exit 0: all is well, 2: a problem, named by file and line)");
    cmd.add_option("--metrics-file", f.metrics_file,
                   "At the end, write the run's metrics to FILE in Prometheus textfile format (for "
                   "node_exporter's textfile collector), atomically");
    add_authfile_flag(cmd, f.authfile,
                      "Docker config.json / containers auth.json for registries without an auth entry; "
                      "default: the usual search ($REGISTRY_AUTH_FILE, ...)");
    add_platform_flag(cmd, f.platforms,
                      "Keep only os/arch[/variant] (repeatable, comma-separated): matching entries of an "
                      "index; an image that matches nothing is excluded. Adds to --os/--arch");
    cmd.add_option("--report", f.report, "Write a JSON report of every image and totals");
    cmd.add_flag("--prune", f.prune,
                 "After copying, delete destination tags that no rule maps to any more (every rule)");
    cmd.add_option("--prune-max", f.prune_max,
                   "The most tags pruning deletes per destination repository, N or N% of its tags; more "
                   "are refused")
        ->default_str("10%");
    add_run_limit_flags(cmd, f.limits);
    cmd.add_option(
           "--include-tags", f.include_tags,
           "Of the tags a source lists, take only these: tags and /regex/ (repeatable, comma-separated); "
           "a tag named literally is kept whatever --latest says. For rules without their own include")
        ->type_size(0, 1)
        ->allow_extra_args(false);
    cmd.add_option("--exclude-tags", f.exclude_tags,
                   "Leave out these tags and /regex/ (repeatable, comma-separated); added to every rule's")
        ->type_size(0, 1)
        ->allow_extra_args(false);
    cmd.add_option(
           "--latest", f.latest,
           "Keep only the newest N of the listed tags (versions by precedence, other tags by creation "
           "time); for rules without their own latest")
        ->check(CLI::Range(1, 1000000))
        ->default_str("");
    add_referrer_flags(cmd, f.referrers);
}

void add_sync_flags(CLI::App& cmd, sync_flags& f) {
    cmd.add_option("--auth", f.auth, "Registry credentials (image-syncer auth file, .json/.yaml/.yml)");
    cmd.add_option("--images", f.images, "Source -> destination mapping (image-syncer images file)");
    cmd.add_option("--config", f.config, "Combined file {auth: ..., images: ...}");
    add_run_flags(cmd, f);
    cmd.add_option(
        "--os", f.os,
        "Keep only these OSes (repeatable, comma-separated): matching entries of an index; an image "
        "that matches nothing is excluded");
    cmd.add_option("--arch", f.arch,
                   "Keep only these architectures, arch[/variant] (repeatable, comma-separated), as --os");
    cmd.add_option("--output-success-images", f.output_success,
                   "Write the images that succeeded, in images format");
    cmd.add_option("--output-failed-images", f.output_failed,
                   "Write the images that failed, in images format");
    cmd.add_option("--output-images-format", f.output_format, "yaml or json")->default_str("yaml");
    cmd.add_option("--shard", f.shard, "Take only shard K of N (0 <= K < N), split by source repository");
}

std::function<int()> add_sync_command(CLI::App& app) {
    auto flags = std::make_shared<sync_flags>();
    auto* cmd =
        app.add_subcommand("sync", "Mirror many repositories from image-syncer style auth and images files");
    add_sync_flags(*cmd, *flags);
    return [flags] { return run_sync_command(*flags); };
}

} // namespace syncer
