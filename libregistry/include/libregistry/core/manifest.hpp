#pragma once
// Manifests and indexes, parsed from their exact bytes. The bytes are what gets hashed and pushed: a manifest
// copied unchanged is never re-serialised.
#include "libregistry/core/digest.hpp"
#include "libregistry/core/error.hpp"
#include "libregistry/core/media_type.hpp"
#include "libregistry/core/platform.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

/// Hard cap on manifest bodies (the distribution registry itself refuses manifests over 4 MiB).
inline constexpr std::size_t max_manifest_size = 4 * 1024 * 1024;

struct descriptor {
    std::string media_type;
    libregistry::digest digest;
    std::int64_t size = -1; ///< -1 when unknown (schema 1 layers)
    std::optional<libregistry::platform> platform;
    std::string artifact_type;
    std::vector<std::string> urls;
};

struct manifest {
    /// From the body's `mediaType`, else the response Content-Type, else inferred from the fields present.
    std::string media_type;
    manifest_kind kind = manifest_kind::unknown;
    std::string bytes;
    /// Of `bytes`; for a signed schema 1 manifest, of its payload without the signatures, as registries
    /// name it.
    libregistry::digest digest;
    std::optional<descriptor> config;
    std::vector<descriptor> layers;    ///< image layers; schema 1 `fsLayers` (deduplicated, size -1)
    std::vector<descriptor> manifests; ///< index entries (may themselves be indexes)
    std::optional<descriptor> subject;
    std::string artifact_type;

    /// The blobs an image manifest needs at the destination: config plus layers, foreign layers excluded,
    /// each digest once.
    std::vector<descriptor> blobs() const;
    /// A descriptor pointing at this manifest.
    descriptor as_descriptor() const;
};

/// Parses manifest or index bytes. `content_type` (may be empty) is used when the body has no `mediaType`.
/// Rejects bodies over max_manifest_size, invalid JSON, and missing or malformed required fields, naming
/// them.
result<manifest> parse_manifest(std::string bytes, std::string_view content_type = {});

/// A new index holding only the entries whose platform matches one of `platforms` (entries without a
/// platform, such as attestations, are dropped too). The result is re-serialised, so its digest differs from
/// the source. Fails when nothing matches.
result<manifest> filter_index(const manifest& index, const std::vector<platform>& platforms);

} // namespace libregistry
