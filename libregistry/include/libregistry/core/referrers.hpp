#pragma once
// OCI 1.1 referrers (distribution-spec "Listing Referrers", image-spec "subject"): the manifests that name
// another one as their `subject` (signatures, SBOMs, attestations). Registries list them through the
// referrers API, or, without it, through the referrers tag schema: the tag `<alg>-<hex>` holding an index of
// them. Cosign's older convention puts them under tags `<alg>-<hex>.sig`, `.att` and `.sbom`.
#include "libregistry/core/digest.hpp"
#include "libregistry/core/error.hpp"
#include "libregistry/core/manifest.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

/// How a registry's referrers were found.
enum class referrers_source {
    api,        ///< GET /v2/<name>/referrers/<digest> answered with an index
    tag_schema, ///< the API is absent; the tag `<alg>-<hex>` held an index
    none,       ///< the API is absent and so is the tag: no referrers
};

/// "api", "tag schema", "none".
std::string_view to_string(referrers_source source) noexcept;

/// What registry::list_referrers found.
struct referrer_list {
    /// Each with mediaType, digest, size, artifactType and annotations, as the registry listed them, less
    /// those an artifactType filter excluded.
    std::vector<descriptor> descriptors;
    referrers_source source = referrers_source::none;
    /// The registry applied the artifactType filter itself (`OCI-Filters-Applied: artifactType`). syncer
    /// filters on its side in every case, so this only says where the filtering happened.
    bool filtered_by_registry = false;
};

/// What carrying an image's referrers came to (sync/referrers_copy.hpp), per destination.
struct referrers_stats {
    int found = 0;            ///< referrers the policy selected at the source
    int copied = 0;           ///< written at the destination by this call
    int present = 0;          ///< already at the destination
    int excluded = 0;         ///< left out by artifactType
    int not_carried = 0;      ///< of a rewritten index, or beyond max_depth
    int fallback_updates = 0; ///< fallback tag indexes written at the destination
    std::uint64_t bytes_sent = 0;
    std::vector<std::string> notes; ///< printable

    referrers_stats& operator+=(const referrers_stats& other);
};

/// The referrers tag schema's tag for `subject`: `<alg>-<encoded>`, the algorithm cut to 32 characters and
/// the encoded part to 64, as distribution-spec says (`sha256-<hex>`).
std::string referrers_tag(const digest& subject);

/// The suffixes cosign gives its tags: signatures, attestations, SBOMs.
inline constexpr std::array<std::string_view, 3> cosign_suffixes{"sig", "att", "sbom"};

/// `referrers_tag(subject) + "." + suffix`, e.g. `sha256-<hex>.sig`.
std::string cosign_tag(const digest& subject, std::string_view suffix);

/// The tags of `tags` that are `referrers_tag(subject) + "." + <suffix>` for any non-empty suffix, in the
/// order of `tags`. The tag schema's own tag (no suffix) is not one of them.
std::vector<std::string> cosign_tags_for(const digest& subject, const std::vector<std::string>& tags);

/// For a tag of the form `<alg>-<encoded>` or `<alg>-<encoded>.<suffix>` whose `<alg>:<encoded>` is a valid
/// digest, that digest; nullopt for any other tag.
std::optional<digest> subject_of_tag(std::string_view tag);

/// The request target of the referrers API: `/v2/<repository>/referrers/<digest>`, with
/// `?artifactType=<percent-encoded>` when `artifact_type` is set and not empty.
std::string referrers_target(std::string_view repository, const digest& subject,
                             const std::optional<std::string>& artifact_type);

/// The referrer descriptors of a referrers answer or of a tag schema index: `body` must be an OCI image
/// index (parse_manifest: by its `mediaType`, else by `content_type`, else by its fields), and its
/// `manifests` are returned as they are. parse_manifest's error, or errc::invalid_manifest for a manifest
/// that is not an index.
result<std::vector<descriptor>> parse_referrers(std::string body, std::string_view content_type = {});

/// The descriptor a registry lists for `referrer`: its media type, digest, size, annotations, and its
/// artifactType, or the config's media type when it has none (distribution-spec "Listing Referrers").
descriptor referrer_descriptor(const manifest& referrer);

/// The descriptors of `list` whose artifactType is `artifact_type`; all of them when it is nullopt or empty.
std::vector<descriptor> filter_artifact_type(std::vector<descriptor> list,
                                             const std::optional<std::string>& artifact_type);

/// The referrers tag schema's index of `referrers` (distribution-spec "Referrers Tag Schema"): an OCI image
/// index (schemaVersion 2, mediaType application/vnd.oci.image.index.v1+json) listing each descriptor's
/// mediaType, digest, size, and its artifactType and annotations when set, in order. Parsed back, so its
/// bytes and digest agree.
manifest referrers_index(const std::vector<descriptor>& referrers);

/// `existing` as it is, followed by the descriptors of `added` whose digest is not in it yet (each digest
/// once, in order). Nothing in `existing` is dropped or changed: merging into a fallback index never loses
/// what another writer put there.
std::vector<descriptor> merge_descriptors(std::vector<descriptor> existing,
                                          const std::vector<descriptor>& added);

} // namespace libregistry
