#pragma once
// `completion SHELL` and the hidden `__docs DIR` (man pages and completion files for the build to install):
// both render the command line the parser itself uses.
#include <CLI/CLI.hpp>

#include <functional>

namespace syncer {

/// `completion bash|zsh|fish`: prints the completion script of `app`'s command line.
std::function<int()> add_completion_command(CLI::App& app);
/// `__docs DIR`, left out of --help: writes DIR/man/man1/*.1 and the completion scripts under DIR in the
/// layout of share/ (bash-completion/completions, zsh/vendor-completions, fish/vendor_completions.d).
std::function<int()> add_docs_command(CLI::App& app);

} // namespace syncer
