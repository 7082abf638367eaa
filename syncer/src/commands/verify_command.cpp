// `syncer verify`: sync's rules files and flags -> verify_options and rules -> libregistry::run_verify.
#include "commands/commands.hpp"
#include "commands/common_flags.hpp"
#include "commands/sync_command.hpp"
#include "output/private_file.hpp"
#include "output/verify_report.hpp"
#include "session.hpp"
#include "storage_registries.hpp"
#include "text.hpp"

#include <libregistry/core/redact.hpp>
#include <libregistry/core/transport.hpp>
#include <libregistry/sync/verify.hpp>

#include <fmt/format.h>

#include <iostream>
#include <memory>

namespace syncer {

namespace asio = boost::asio;
using namespace libregistry;

namespace {

struct verify_flags {
    sync_flags sync;
    bool deep = false;
};

int run_verify_command(const verify_flags& vf) {
    const auto& f = vf.sync;
    auto config = load_sync_files(f);
    for (const auto& rule : config.auth) {
        known_secrets().add_basic(rule.cred.username, rule.cred.password);
        known_secrets().add(rule.cred.identity_token);
    }
    if (f.log_format != "text" && f.log_format != "json")
        throw usage_error(fmt::format("--log-format {}: expected text or json", f.log_format));
    const auto limits = parse_run_limits(f.limits);
    verify_options options;
    options.proc = static_cast<std::size_t>(std::max(f.proc, 1));
    options.jobs = std::max<std::size_t>(f.jobs, 1);
    options.deep = vf.deep;
    options.platforms = run_platforms(f);
    if (!f.shard.empty()) {
        auto s = parse_shard(f.shard);
        if (!s) throw usage_error(s.error().message);
        options.shard = *s;
    }
    if (!f.report.empty()) open_private(f.report, true, "--report");
    std::FILE* log_file = stderr;
    file_ptr owned_log(nullptr, &std::fclose);
    if (!f.log.empty()) {
        owned_log = open_private(f.log, true, "--log");
        log_file = owned_log.get();
    }
    logger log(f.log_format == "json", log_file);
    options.on_result = [&](const verify_result& r) { log_verify_result(log, r); };
    options.on_warning = [&](const std::string& w) { log.warning(w); };

    session s(f.retries, limits.min_rate);
    s.timeout = limits.timeout;
    s.max_wait = limits.max_wait;
    options.stop = s.stop_token();
    // Layouts and archives, sources and destinations alike, are only read: opened before the run, so a
    // missing or malformed one stops it with exit 2 before any registry is asked.
    storage_registries storage;
    for (const auto& rule : config.images) {
        if (parse_storage_registry_name(rule.source.registry)) storage.open(rule.source.registry, false);
        for (const auto& destination : rule.destinations)
            if (parse_storage_registry_name(destination.registry)) storage.open(destination.registry, false);
    }
    auto provider = make_session_provider(s, config.auth, f.authfile, &storage);
    auto rules = std::move(config.images);
    return s.run([&]() -> asio::awaitable<int> {
        auto r = co_await run_verify(std::move(rules), *provider, options);
        if (!r) {
            log.error(r.error().message);
            co_return exit_usage;
        }
        const auto& report = *r;
        const std::string signal = s.stopped_by();
        if (!f.report.empty())
            write_private(f.report, verify_report_json(report, signal).dump(2) + "\n", "the report");
        auto summary = verify_summary_text(report);
        if (report.totals.drift() > 0 || report.totals.failed > 0 || report.totals.interrupted > 0)
            log.error(summary);
        else
            log.info(summary);
        co_return report.totals.drift() > 0 || report.totals.failed > 0 || report.totals.interrupted > 0
            ? exit_failed
            : exit_ok;
    });
}

} // namespace

std::function<int()> add_verify_command(CLI::App& app) {
    auto flags = std::make_shared<verify_flags>();
    auto* cmd = app.add_subcommand(
        "verify", "Check that the destinations of sync rules hold what the sources have (exit 1 on drift)");
    auto& f = flags->sync;
    cmd->add_option("--auth", f.auth, "Registry credentials (image-syncer auth file, .json/.yaml/.yml)");
    cmd->add_option("--images", f.images, "Source -> destination mapping (image-syncer images file)");
    cmd->add_option("--config", f.config, "Combined file {auth: ..., images: ...}");
    cmd->add_flag(
        "--deep", flags->deep,
        "Also read back every destination blob: sizes, digests, layers against the config's diff_ids, "
        "and the sources' cosign-style referrer tags");
    cmd->add_option("--proc,-p", f.proc, "Images checked in parallel")->check(CLI::Range(1, 1024));
    cmd->add_option("--jobs,-j", f.jobs, "Blobs read in parallel per image (--deep)")
        ->check(CLI::Range(1, 256));
    add_retries_flag(*cmd, f.retries, "Retries per request", true);
    add_authfile_flag(*cmd, f.authfile,
                      "Docker config.json / containers auth.json for registries without an auth entry");
    add_platform_flag(*cmd, f.platforms,
                      "As in sync, os/arch[/variant]: compare an index as the platform filter leaves it");
    cmd->add_option("--os", f.os, "As in sync: compare an index as the platform filter leaves it");
    cmd->add_option("--arch", f.arch, "As in sync, arch[/variant]");
    cmd->add_option("--shard", f.shard, "Take only shard K of N (0 <= K < N), split by source repository");
    cmd->add_option("--log", f.log, "Write log lines to FILE (appending) instead of stderr");
    cmd->add_option("--log-format", f.log_format, "text or json")->default_str("text");
    cmd->add_option("--report", f.report, "Write a JSON report of every image and totals");
    add_run_limit_flags(*cmd, f.limits);
    return [flags] { return run_verify_command(*flags); };
}

} // namespace syncer
