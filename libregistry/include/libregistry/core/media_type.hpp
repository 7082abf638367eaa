#pragma once
// Manifest and blob media types, as a typed classification with predicates.
#include <string>
#include <string_view>

namespace libregistry::media_types {
inline constexpr std::string_view docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view docker_manifest_list =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view docker_schema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view docker_schema1_signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
inline constexpr std::string_view oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view docker_foreign_layer =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr std::string_view oci_empty_json = "application/vnd.oci.empty.v1+json";
} // namespace libregistry::media_types

namespace libregistry {

enum class manifest_kind {
    image,   ///< Docker schema 2 or OCI image manifest (including artifacts)
    index,   ///< Docker manifest list or OCI image index
    schema1, ///< Docker schema 1, copied as-is
    unknown,
};

/// The `type/subtype` part of a media type or Content-Type value: parameters and surrounding space dropped.
std::string_view media_type_essence(std::string_view media_type) noexcept;

/// Classifies a manifest media type; parameters (`; charset=...`) are ignored.
manifest_kind kind_of(std::string_view media_type) noexcept;

/// The Accept header for manifest requests: all four manifest and index types plus schema 1.
const std::string& manifest_accept_header();

/// True for an image's config (OCI or Docker), the blob whose JSON names the platform and creation time.
bool is_image_config(std::string_view media_type) noexcept;

/// True for layers a registry need not hold (foreign / non-distributable), which copies leave alone.
bool is_foreign_layer(std::string_view media_type) noexcept;

} // namespace libregistry
