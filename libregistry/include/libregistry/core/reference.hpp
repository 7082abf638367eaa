#pragma once
// Image references: `[host[:port]/]path[:tag][@digest]` per the distribution reference grammar
// (distribution/reference/regexp.go, mirrored by the OCI distribution-spec's name and tag rules).
#include "libregistry/core/digest.hpp"
#include "libregistry/core/error.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace libregistry {

inline constexpr std::string_view docker_hub_registry = "docker.io";
inline constexpr std::string_view docker_hub_api_host = "registry-1.docker.io";

/// A plain value: registry and repository are normalised (Docker Hub is `docker.io`, one-component Hub names
/// get `library/`); `tag` is empty when the text had none; `digest` is set when it had `@digest`.
struct reference {
    std::string registry;
    std::string repository;
    std::string tag;
    std::optional<libregistry::digest> digest;

    /// `registry/repository`.
    std::string name() const;
    /// The manifest reference to ask for: the digest when set, else the tag, else `latest`.
    std::string identifier() const;
    /// Normalised full form: `registry/repository[:tag][@digest]`.
    std::string str() const;
    /// Host[:port] to open connections to: `registry-1.docker.io` for Docker Hub, else `registry`.
    std::string api_host() const;

    friend bool operator==(const reference&, const reference&) = default;
};

/// Parses and normalises a reference. A leading `docker://` is accepted and ignored. The first path component
/// is a registry host when it contains `.` or `:` or is `localhost`, as docker decides.
result<reference> parse_reference(std::string_view text);

/// When `text` starts with another tool's transport (skopeo's `oci:`, `dir:`, `docker-archive:`, ...,
/// regctl's `ocidir://`), says so and which form syncer reads; parse_reference and the images-file parser
/// refuse such text with it rather than reading `oci:/dir` as a host with an empty port.
std::optional<std::string> transport_problem(std::string_view text);

/// Parses a repository name with no tag or digest (`[host/]path`).
result<reference> parse_repository(std::string_view text);

/// Validates a tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
bool is_valid_tag(std::string_view tag) noexcept;

/// Validates a repository path without its host (`library/alpine`): path components separated by `/`, each
/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`, at most 255 characters in all.
bool is_valid_repository_path(std::string_view path) noexcept;

/// The host[:port] that serves `registry`'s API: `registry-1.docker.io` for Docker Hub, else `registry`.
std::string api_host_of(std::string_view registry);

/// Normalises a registry host as users write it: `index.docker.io`, `registry-1.docker.io` and
/// `https://index.docker.io/v1/` become `docker.io`; a scheme and trailing slashes are dropped.
std::string normalize_registry(std::string_view host);

} // namespace libregistry
