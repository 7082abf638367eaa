#pragma once
// image-syncer's configuration files: `--auth` (registry credentials), `--images` (source -> destinations),
// `--config` (both, as `{auth: ..., images: ...}`). JSON or YAML, chosen by file extension.
//
// One header for the parts, each in its own file: environment.cpp ($VAR expansion), document.cpp (the format,
// reading one document; document.hpp is what the parsers share), auth_file.cpp, images_file.cpp (with the
// source and destination syntax), config_file.cpp and render_images.cpp.
#include <libregistry/core/credential_rules.hpp>
#include <libregistry/core/error.hpp>
#include <libregistry/sync/sync_plan.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace syncer {

/// Looks up an environment variable; nullopt when unset.
using env_lookup = std::function<std::optional<std::string>(std::string_view name)>;
env_lookup process_environment();

/// Expands `$VAR` and `${VAR}` from `env`; `$$` is a literal `$`. An unset variable, `${` without `}` or a
/// `$` followed by anything else is an error naming `where` (file:line and key).
libregistry::result<std::string> expand_env(std::string_view text, const env_lookup& env,
                                            std::string_view where);

enum class file_format { json, yaml };
/// By extension: `.json` is JSON, `.yaml`/`.yml` YAML; anything else is an error.
libregistry::result<file_format> format_of(std::string_view path);

struct sync_config {
    std::vector<libregistry::credential_rule> auth;
    std::vector<libregistry::sync_rule> images;
};

/// Parse from text; `name` is the file name used in messages.
libregistry::result<std::vector<libregistry::credential_rule>>
parse_auth(std::string_view text, file_format format, std::string_view name, const env_lookup& env);
libregistry::result<std::vector<libregistry::sync_rule>>
parse_images(std::string_view text, file_format format, std::string_view name, const env_lookup& env);
libregistry::result<sync_config> parse_config(std::string_view text, file_format format,
                                              std::string_view name, const env_lookup& env);

/// Read a file and parse it by its extension.
libregistry::result<std::vector<libregistry::credential_rule>> load_auth_file(const std::string& path,
                                                                              const env_lookup& env);
libregistry::result<std::vector<libregistry::sync_rule>> load_images_file(const std::string& path,
                                                                          const env_lookup& env);
libregistry::result<sync_config> load_config_file(const std::string& path, const env_lookup& env);

/// Parses one images-file source key (`repo`, `repo:t1,t2`, `repo:/regex/`, `repo@sha256:...`).
libregistry::result<libregistry::sync_source> parse_source(std::string_view text);
/// Parses one destination (`repo`, `repo:tag`, `repo:t1,t2`).
libregistry::result<libregistry::sync_destination> parse_destination(std::string_view text);

/// The deepest a rule's `referrers: {depth: N}` and `--referrers-depth` go: far beyond any real chain (a
/// signature of an attestation of an SBOM is 3), small enough that a typo is caught.
inline constexpr int max_referrers_depth = 100;

/// Renders rules back in the images-file format (one source key per rule), for --output-*-images.
std::string render_images(const std::vector<libregistry::sync_item>& items, file_format format);

} // namespace syncer
