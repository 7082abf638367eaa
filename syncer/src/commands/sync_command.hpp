#pragma once
// `syncer sync` flags, shared with the `image-syncer` compatible entry point.
#include "commands/referrer_flags.hpp"
#include "commands/run_limits.hpp"
#include "config/sync_config.hpp"

#include <libregistry/core/credential_rules.hpp>
#include <libregistry/core/platform.hpp>
#include <libregistry/sync/sync_runner.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>

#include <memory>

#include <string>
#include <vector>

namespace syncer {

struct sync_flags {
    std::string auth;
    std::string images;
    std::string config;
    int proc = 64;
    int retries = 2;
    std::size_t jobs = 6;
    std::size_t max_concurrency = 0;      ///< --max-concurrency; 0: the library's default cap
    std::size_t max_blob_concurrency = 0; ///< --max-blob-concurrency; 0: the library's default cap
    std::vector<std::string> os;
    std::vector<std::string> arch;
    std::vector<std::string> platforms; ///< --platform os/arch[/variant], as given
    std::string authfile;     ///< --authfile: docker/containers auth file; empty: the default search
    bool check = false;       ///< --check: validate and print the rules, contact no registry
    std::string metrics_file; ///< --metrics-file: Prometheus textfile written at the end
    bool force = false;
    std::string log;
    std::string log_format = "text";
    std::string output_success;
    std::string output_failed;
    std::string output_format = "yaml";
    bool dry_run = false;
    std::string report;
    std::string shard;
    bool prune = false;
    std::string prune_max = "10%";
    run_limit_flags limits;
    std::vector<std::string> include_tags; ///< --include-tags, as given (comma lists)
    std::vector<std::string> exclude_tags;
    std::size_t latest = 0; ///< --latest; 0: not given
    referrer_flags referrers;
};

void add_sync_flags(CLI::App& cmd, sync_flags& flags);
/// Registers only the flags that shape a run (--proc, --retries, --jobs, --max-concurrency,
/// --max-blob-concurrency, --force, --log, --log-format,
/// --dry-run, --check, --report, --metrics-file, --prune, --prune-max, --timeout, --min-rate,
/// --min-rate-window, --max-wait, --platform, --authfile, the tag policy flags --include-tags,
/// --exclude-tags, --latest, and the referrers flags), with the meaning they have in `syncer sync`; for
/// commands that build their rules from something other than image-syncer's files.
void add_run_flags(CLI::App& cmd, sync_flags& flags);
class session;
class storage_registries;

/// --os and --arch (`arch[:variant]` or `arch[/variant]`, both repeatable and comma-separated) as platform
/// filters: every os with every arch; empty when neither is given.
std::vector<libregistry::platform> platform_filters(const std::vector<std::string>& os_flags,
                                                    const std::vector<std::string>& arch_flags);

/// Loads --config, --auth and --images (in that order, later ones adding to earlier ones); throws
/// usage_error naming the file and line for bad input, or when neither --images nor --config is given.
sync_config load_sync_files(const sync_flags& flags);
/// Registries opened on `s` with `rules`' credentials, one client per registry name; `authfile` (--authfile)
/// replaces the default docker/containers auth file search (throws usage_error when it does not exist).
/// Layouts and archives the rules name come from `storage`, opened there beforehand (nullptr: none).
std::unique_ptr<libregistry::registry_provider>
make_session_provider(session& s, std::vector<libregistry::credential_rule> rules,
                      const std::string& authfile = "", storage_registries* storage = nullptr);
/// The run's platform filters: --os/--arch combined, and every --platform; throws usage_error for a bad one.
std::vector<libregistry::platform> run_platforms(const sync_flags& flags);
/// Checks --log-format and makes stderr's own lines (usage errors, warnings, the stop notice) follow it;
/// throws usage_error for anything but text or json.
void use_log_format(const sync_flags& flags);
/// Runs a sync from parsed flags; returns the exit status (throws usage_error for bad input).
int run_sync_command(const sync_flags& flags);
/// Runs a sync of already loaded rules and credentials with the run-shaping flags of `flags` (everything but
/// --auth/--images/--config); for commands that build their rules another way.
/// `storage`: layouts and archives the caller opened already (import's bundle); the rules' others are opened
/// here.
/// `precheck`: run before anything is copied, with the run's registries; a non-empty answer is the reason the
/// run stops there (logged as a config error, exit 2).
using run_precheck = std::function<boost::asio::awaitable<std::string>(libregistry::registry_provider&)>;
int run_sync_config(sync_config config, const sync_flags& flags, storage_registries* storage = nullptr,
                    const run_precheck& precheck = {});
/// --include-tags, --exclude-tags and --latest as a policy for every rule; throws usage_error for a bad
/// entry.
libregistry::tag_policy run_tag_policy(const sync_flags& flags);

} // namespace syncer
