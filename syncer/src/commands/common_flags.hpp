#pragma once
// The flags several commands share, spelled one way everywhere (docs/sync.md, "Flags across commands"):
// --retries (alias --retry-times), --authfile for docker/containers auth files, --auth for image-syncer
// auth files (alias --auth-file), --platform os/arch[/variant]. The older spellings stay accepted.
#include <libregistry/core/platform.hpp>

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace syncer {

/// --retries N, also spelled --retry-times (skopeo's name); `short_r` adds -r.
CLI::Option* add_retries_flag(CLI::App& cmd, int& value, const std::string& help, bool short_r = false);

/// --authfile PATH: a docker config.json / containers auth.json used instead of the default search.
CLI::Option* add_authfile_flag(CLI::App& cmd, std::string& path, const std::string& help);

/// --platform os/arch[/variant], repeatable and comma-separated.
CLI::Option* add_platform_flag(CLI::App& cmd, std::vector<std::string>& values, const std::string& help);

/// The --platform values as platforms; throws usage_error naming the flag and the bad value.
std::vector<libregistry::platform> parse_platform_flags(const std::vector<std::string>& values);

} // namespace syncer
