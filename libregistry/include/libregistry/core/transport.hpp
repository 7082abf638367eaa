#pragma once
// Image arguments with a transport, as skopeo writes them: `docker://REF` (or a bare REF), `oci:DIR[:REF]`,
// `oci-archive:FILE[:REF]` and `docker-archive:FILE[:NAME:TAG]`. Pure: the text is split and checked, nothing
// is opened. docs/airgap.md describes the forms.
#include "libregistry/core/error.hpp"
#include "libregistry/core/reference.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace libregistry {

enum class transport_kind { docker, oci, oci_archive, docker_archive };

/// "docker", "oci", "oci-archive", "docker-archive".
std::string_view to_string(transport_kind kind) noexcept;

/// Where an image is: a registry (transport docker) or an image layout or archive on disk.
///
/// For the storage transports `ref.registry` is storage_registry_name(transport, path), so the registry
/// providers of copy and sync can tell it from a host, and `ref.repository`, `ref.tag`, `ref.digest` come
/// from what follows the path:
///   - nothing (`oci:DIR`): no repository, no tag (a destination of many images; a sync names each image by
///     its source repository and tag);
///   - `REPOSITORY:TAG` or `REPOSITORY@DIGEST` (`oci:DIR:library/alpine:3.19`): an image of a bundle of many
///     repositories (`named`);
///   - `TAG` or `@DIGEST` (`oci:DIR:latest`): an image of a layout as skopeo's `oci:DIR:TAG` writes it, whose
///     entries carry the tag alone (not `named`).
/// The path ends at the FIRST ':' after the transport, as skopeo 1.9.3 splits it (so `library/alpine:3.19`
/// can follow it); a path that contains ':' cannot be named.
struct image_location {
    transport_kind transport = transport_kind::docker;
    std::string path; ///< the directory or file; empty for docker
    reference ref;
    bool named = false; ///< storage: the text after the path named a repository

    bool is_storage() const noexcept { return transport != transport_kind::docker; }
    /// The text as a user writes it again: `HOST/REPO:TAG`, `oci:DIR:REPO:TAG`, `oci-archive:FILE`.
    std::string str() const;
};

/// Parses an image argument. Other tools' transports syncer does not have (`dir:`, `docker-daemon:`, ...)
/// are refused with transport_problem's message; a storage transport with an empty path, or with a
/// reference that is neither a tag, a digest nor REPOSITORY:TAG / REPOSITORY@DIGEST, is refused naming the
/// text (errc::invalid_reference).
result<image_location> parse_image_location(std::string_view text);

/// The registry name a storage location gets in references and sync rules: `oci:DIR`, `oci-archive:FILE`,
/// `docker-archive:FILE`.
std::string storage_registry_name(transport_kind kind, std::string_view path);

/// The transport and path of a registry name storage_registry_name made; nullopt for a registry host.
std::optional<std::pair<transport_kind, std::string>> parse_storage_registry_name(std::string_view name);

} // namespace libregistry
