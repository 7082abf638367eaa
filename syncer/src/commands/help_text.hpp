#pragma once
// What `--help` says beyond the flags (examples, the environment variables that stand in for flags), and
// what syncer says when the command word is missing or unknown.
#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace syncer {

/// Sets every subcommand's help footer: 2-3 examples and, where any exist, the environment variables that
/// set one of its flags; and hides empty list defaults. Call after every subcommand is added.
void add_help_footers(CLI::App& app);

/// Clears the shown default of `app`'s options whose default is an empty list (CLI11 shows "=[]").
void hide_empty_list_defaults(CLI::App& app);

/// The examples and environment footer of the command `name` ("" for syncer itself, "image-syncer" for the
/// image-syncer entry point); empty for an unknown name.
std::string help_footer(std::string_view name);

/// The first argument that is not a flag of syncer itself (--debug, --help, -h, --version, -V): the word that
/// names the command; nullopt when there is none or a flag syncer does not know comes first.
std::optional<std::string> command_word(int argc, const char* const* argv);

/// The message for a command word that names no command of `app`: `unknown command "foo"` and the list of
/// commands with their descriptions. The word is quoted only when it looks like a command name (lowercase
/// letters, digits, dashes): anything else may be a secret typed in the wrong place, and is not echoed.
std::string unknown_command_text(const CLI::App& app, std::string_view word);

/// The message when no command was given: the list of commands.
std::string missing_command_text(const CLI::App& app);

} // namespace syncer
