#pragma once
// Subcommands: each registers its flags on a CLI11 subcommand and returns the exit status when run.
#include <CLI/CLI.hpp>

#include <functional>

namespace syncer {

/// Exit statuses shared by every command.
enum exit_status : int { exit_ok = 0, exit_failed = 1, exit_usage = 2 };
/// Interrupted by signal N (SIGINT, SIGTERM): the status is exit_signal_base + N, 130 and 143, as shells
/// report a process killed by it.
constexpr int exit_signal_base = 128;

/// Sets up `copy` on `app`; the returned function runs it after parsing.
std::function<int()> add_copy_command(CLI::App& app);
/// `inspect`, `digest` and `tags`.
std::function<int()> add_inspect_command(CLI::App& app);
std::function<int()> add_digest_command(CLI::App& app);
std::function<int()> add_tags_command(CLI::App& app);
std::function<int()> add_catalog_command(CLI::App& app);
/// `referrers`.
std::function<int()> add_referrers_command(CLI::App& app);
/// `delete`.
std::function<int()> add_delete_command(CLI::App& app);
/// `sync`.
std::function<int()> add_sync_command(CLI::App& app);
/// `syncer export` and `syncer import` (commands/airgap_commands.cpp): bundles for air-gapped mirrors.
std::function<int()> add_export_command(CLI::App& app);
std::function<int()> add_import_command(CLI::App& app);
/// `login` and `logout`.
std::function<int()> add_login_command(CLI::App& app);
std::function<int()> add_logout_command(CLI::App& app);
/// `verify`.
std::function<int()> add_verify_command(CLI::App& app);

} // namespace syncer
