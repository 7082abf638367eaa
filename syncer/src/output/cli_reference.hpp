#pragma once
// The command line as data: what `--help` shows, read from the CLI11 definitions at run time, so the shell
// completions and man pages rendered from it cannot drift from the flags the parser accepts.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace syncer {

struct cli_option {
    std::vector<std::string> names;   // as typed: "-a", "--all"; empty for a positional
    std::string positional_name;      // "SOURCE"; empty for an option
    std::string value_name;           // "TEXT", "DURATION"; empty for a flag
    std::string constraint;           // what the validators accept: "INT in [0 - 100]", "{bash,zsh,fish}"
    std::vector<std::string> choices; // the members of a {a,b,c} constraint
    std::string description;
    std::string default_value;
    std::string environment;     // the variable that sets it
    bool value_required = false; // the next word is its value (else only --name=value, or none)
    bool required = false;
    bool repeatable = false;
};

struct cli_command {
    std::vector<std::string> path; // {"syncer"}, {"syncer", "copy"}
    std::vector<std::string> aliases;
    std::string description;
    std::string footer;
    std::vector<cli_option> options;
    std::vector<cli_option> positionals;
    std::vector<cli_option> inherited_options; // a fallthrough parent's options, accepted here too
    std::vector<cli_command> subcommands;
};

// Everything --help lists: hidden options and subcommands (empty group) are left out.
cli_command describe_cli(const CLI::App& app);

// "syncer copy" for {"syncer", "copy"}; the man page name is "syncer-copy".
std::string command_line(const cli_command& command);
std::string page_name(const cli_command& command);

} // namespace syncer
