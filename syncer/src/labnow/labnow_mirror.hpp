#pragma once
// The LabNow mirroring plan: images built under one namespace of a source registry, copied to the same
// repository paths and tags on every mirror registry. `syncer jobs` and `syncer sync-image` map their flags
// and environment to a mirror_request; this turns it into sync rules and credentials. Pure: no I/O.
#include "config/sync_config.hpp"
#include "labnow/labnow_jobs.hpp"

#include <libregistry/core/credential_rules.hpp>
#include <libregistry/core/error.hpp>
#include <libregistry/sync/sync_plan.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace syncer {

struct mirror_request {
    std::string source_registry;        ///< as given: `quay.io`, `https://quay.io/`, `127.0.0.1:5000`
    std::string image_namespace;        ///< `labnow`
    std::vector<workflow_image> images; ///< repository paths under the namespace
    std::vector<std::string> targets;   ///< as given: `host[:port][/path]`
    std::vector<std::string> tags;      ///< empty: every tag
};

/// A registry as users write it (`host[:port][/path]`, an optional `https://` and trailing `/`) ->
/// `host[:port][/path]` with Docker Hub's aliases folded into `docker.io`. Fails unless the host is one
/// (it has a `.` or `:`, or is `localhost`) and the path is a repository path; `what` names the flag.
libregistry::result<std::string> parse_registry(std::string_view text, std::string_view what);

/// One rule per image, all of its tags (or `tags`) from `source/namespace/name` to `target/namespace/name`
/// for every target. Fails for no targets, no images, a target equal to the source, or a registry,
/// namespace or tag the reference grammar refuses.
libregistry::result<std::vector<libregistry::sync_rule>> mirror_rules(const mirror_request& request);

/// Credentials from the environment, for runs without an auth file: DOCKER_REGISTRY_USERNAME and
/// DOCKER_REGISTRY_PASSWORD for the source, DOCKER_MIRROR_REGISTRY_USERNAME and
/// DOCKER_MIRROR_REGISTRY_PASSWORD for every target, each keyed by its registry. A pair with neither set
/// gives no rule; one without the other is an error, as in an auth file.
libregistry::result<std::vector<libregistry::credential_rule>> env_credentials(const env_lookup& env,
                                                                               const mirror_request& request);

} // namespace syncer
