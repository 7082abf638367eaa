#pragma once
// `syncer inspect --format`: what skopeo inspect (1.9.3) shows for an image, as its JSON and through the
// part of Go's text/template that scripts use with it: {{.Field}}, {{.Labels.key}}, {{index .Labels "key"}},
// {{index .RepoTags 0}}, {{range .RepoTags}}...{{end}}, {{json .}}, and the {{- -}} trim markers. Strict:
// anything else is an error that names it, before any registry is asked.
#include "output/go_format.hpp"

#include <libregistry/core/error.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace syncer {

/// skopeo inspect's fields (cmd/skopeo/inspect.Output in skopeo 1.9.3), in its order.
struct inspect_info {
    std::string name;   ///< host/repository, without tag or digest
    std::string digest; ///< of the manifest or index the reference names
    std::vector<std::string> repo_tags;
    std::optional<go_time> created;
    std::string docker_version;
    std::optional<std::map<std::string, std::string>> labels; ///< nullopt: the config has none (null)
    std::string architecture;
    std::string os;
    std::vector<std::string> layers;
    std::optional<std::vector<std::string>> env; ///< nullopt: the config has none (null)
};

/// skopeo's JSON for `info` (`--format json` or `{{json .}}`), with the final newline.
std::string inspect_json(const inspect_info& info);

/// `info` from an image config's JSON (created, docker_version, architecture, os, config.Labels,
/// config.Env); name, digest, tags and layers are the caller's. An error for a config that is not a JSON
/// object or a `created` Go could not read.
libregistry::result<void> read_inspect_config(std::string_view config_json, inspect_info& info);

/// `skopeo inspect --config`: the config read as an OCI image config (image-spec's Go types) and written
/// back as skopeo writes it (4-space indent, fields in the spec's order, empty ones left out, unknown ones
/// dropped), with the final newline. An error for a config that is not a JSON object or has a `created` that
/// is not RFC 3339.
libregistry::result<std::string> inspect_config_json(std::string_view config_json);

class inspect_template {
public:
    /// Parses `text`; errors name what is unknown or malformed ("unknown field \"Nope\"").
    static libregistry::result<inspect_template> parse(std::string_view text);

    /// The output, with a newline at the end as skopeo adds one; an error for an index out of range.
    libregistry::result<std::string> render(const inspect_info& info) const;

    struct node;

private:
    std::vector<std::shared_ptr<const node>> nodes_;
    bool json_ = false; ///< the whole template is {{json .}} (or "json"): skopeo's JSON
};

} // namespace syncer
