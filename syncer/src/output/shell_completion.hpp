#pragma once
// Completion scripts for bash, zsh and fish, rendered from the command line's own definitions
// (cli_reference).
#include "output/cli_reference.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace syncer {

// The script for `shell` ("bash", "zsh" or "fish"); nullopt for another shell.
std::optional<std::string> completion_script(const cli_command& root, std::string_view shell);

} // namespace syncer
