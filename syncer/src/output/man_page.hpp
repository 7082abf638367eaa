#pragma once
// Man pages (roff, man(7) macros) for a command and each of its subcommands, rendered from the command line's
// own definitions (cli_reference), so they say what `--help` says.
#include "output/cli_reference.hpp"

#include <string>
#include <vector>

namespace syncer {

struct man_page {
    std::string file_name; // "syncer-copy.1"
    std::string text;
};

// One page for `root` and one per subcommand, at any depth.
std::vector<man_page> man_pages(const cli_command& root, const std::string& version);

} // namespace syncer
