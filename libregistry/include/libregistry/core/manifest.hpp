#pragma once
// Manifests and indexes, parsed from their exact bytes. The bytes are what gets hashed and pushed: a manifest
// copied unchanged is never re-serialised.
#include "libregistry/core/digest.hpp"
#include "libregistry/core/error.hpp"
#include "libregistry/core/media_type.hpp"
#include "libregistry/core/platform.hpp"

#include <cstdint>
#include <map>
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
    /// image-spec "Annotations": string keys to string values.
    std::map<std::string, std::string> annotations;
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
    /// The manifest's own `annotations` (not those of its descriptors).
    std::map<std::string, std::string> annotations;

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

/// Entries of `index` that are indexes themselves and that a platform filter must look into: those with no
/// platform (how a nested index is usually listed) and those whose platform matches. Each digest once.
std::vector<descriptor> nested_indexes(const manifest& index, const std::vector<platform>& platforms);

/// An index as a platform filter leaves it.
struct platform_selection {
    /// nullopt when no entry matched; `index` itself, bytes and digest unchanged, when the filter kept every
    /// entry as it was.
    std::optional<manifest> index;
    /// `os/arch[/variant]` of every entry seen, those inside nested indexes included, each once, in order.
    std::vector<std::string> available;
};

/// Applies a platform filter to `index`. Entries whose platform matches one of `platforms` are kept verbatim;
/// the others are dropped, entries without a platform (such as attestations) too. An entry found in `nested`
/// (by its digest: a nested index, filtered in turn) is dropped when nothing in it matched, kept verbatim
/// when it came through unchanged, and otherwise pointed at the filtered index: its digest and size are
/// replaced, every other field is kept. A changed index is re-serialised with every object's keys in their
/// original order, so its digest differs from the source's. Fails for an `index` that is not an index or
/// for empty `platforms`.
result<platform_selection> select_platforms(const manifest& index, const std::vector<platform>& platforms,
                                            const std::map<digest, platform_selection>& nested = {});

/// errc::platform_mismatch for an index in which nothing matched, naming the platforms asked for and those
/// `available`.
error no_platform_match(const digest& index, const std::vector<platform>& platforms,
                        const std::vector<std::string>& available);

/// select_platforms without looking into nested indexes; fails with no_platform_match when nothing matches.
result<manifest> filter_index(const manifest& index, const std::vector<platform>& platforms);

/// The platform a schema 1 manifest was built for: the newest history entry's `v1Compatibility` (that layer's
/// image configuration) names it, else the manifest's own `architecture`; an os left out is "linux", all
/// schema 1 ever carried. nullopt when no architecture is named or `m` is not schema 1. Schema 2 and OCI
/// images name their platform in the config blob (platform_of_config).
std::optional<platform> schema1_platform(const manifest& m);

} // namespace libregistry
