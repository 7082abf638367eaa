#pragma once
// Referrers travel with their images: the signatures, SBOMs and attestations that name a manifest as their
// `subject`, found at the source through the referrers API, the tag schema (`sha256-<hex>`) and cosign's
// tags (`sha256-<hex>.sig`, `.att`, `.sbom`, any `.<suffix>`), recursively (a signature of an SBOM is a
// referrer of the SBOM), and written at the destination after their subject: blobs, then the referrer
// manifest by digest with its exact bytes; where the destination does not index subjects itself (no
// `OCI-Subject` on the PUT) the fallback tag's index is read, merged (nothing already there is dropped) and
// written back. Cosign tags are copied as tags.
#include "libregistry/client/registry.hpp"
#include "libregistry/core/digest.hpp"
#include "libregistry/core/error.hpp"
#include "libregistry/core/manifest.hpp"
#include "libregistry/core/referrers.hpp"
#include "libregistry/sync/copy.hpp"
#include "libregistry/sync/referrer_policy.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

/// How a referrer was found.
enum class referrer_via { api, tag_schema, cosign_tag };
/// "api", "tag schema", "cosign tag" (as the report and `syncer referrers --format json` show them).
std::string_view to_string(referrer_via via) noexcept;

/// One referrer found at the source: a node of the tree under an image.
struct referrer_node {
    descriptor desc; ///< media type, digest, size, artifactType (config media type without one), annotations
    libregistry::digest subject; ///< the manifest it refers to
    referrer_via via = referrer_via::api;
    std::string tag; ///< the cosign tag (via cosign_tag)
    int depth = 1;   ///< 1: refers to one of the subjects asked about
};

/// What the referrers of a set of subjects came to at the source.
struct referrer_discovery {
    /// Every referrer the policy selects, each digest once, parents before their own referrers.
    std::vector<referrer_node> nodes;
    /// Referrers the policy left out (by type), and those beyond max_depth; counted, not copied.
    int excluded = 0;
    int too_deep = 0;
    /// Printable notes (a cycle, the depth bound reached).
    std::vector<std::string> notes;
};

/// What a run learned about registries and repositories that saves requests later: which registries lack the
/// referrers API (after the first 404 their tag schema alone is read, and a subject whose `sha256-<hex>`
/// tag is not in a known tag list costs nothing), and the source tag lists (for cosign tags). One per run;
/// not thread-safe (a run is one strand).
class referrers_context {
public:
    referrers_context() = default;
    explicit referrers_context(referrer_policy policy) : policy_(std::move(policy)) {}

    const referrer_policy& policy() const { return policy_; }
    void set_policy(referrer_policy policy) { policy_ = std::move(policy); }

    /// The tag list of `registry/repository`, when known; lists it (once) through `source` otherwise.
    boost::asio::awaitable<result<const std::vector<std::string>*>> tags(registry& source,
                                                                         const std::string& repository);
    /// Records a tag list fetched elsewhere (the sync's own listing).
    void set_tags(const std::string& registry_name, const std::string& repository,
                  std::vector<std::string> tags);

    /// Whether `registry_name` answered a referrers API request with 404 (or no index) earlier in the run.
    bool api_absent(const std::string& registry_name) const { return no_api_.count(registry_name) > 0; }
    void note_api_absent(const std::string& registry_name) { no_api_.insert(registry_name); }

private:
    referrer_policy policy_;
    std::map<std::string, std::vector<std::string>> tags_; ///< by registry/repository
    std::set<std::string> no_api_;
};

/// Finds the referrers of `subjects` in `repository` of `source`, recursively, as `context`'s policy
/// selects them. Failures of the listing (other than "no referrers") fail the whole discovery.
boost::asio::awaitable<result<referrer_discovery>> discover_referrers(registry& source,
                                                                      std::string repository,
                                                                      std::vector<digest> subjects,
                                                                      referrers_context& context);

/// The image whose referrers are carried, as the destination holds it.
struct referrer_subjects {
    /// The manifest at the destination, and its media type; for an index each child is a subject too (read
    /// from the source when `image` is not given).
    libregistry::digest digest;
    std::string media_type;
    std::optional<manifest> image;
    /// A source index a platform filter rewrote into `digest`: its own referrers name a digest the
    /// destination does not have, so they are not carried (counted in `not_carried` and said in a note);
    /// those of the kept children are.
    std::optional<libregistry::digest> rewritten;
};

/// Carries the referrers of `subjects` from `source_repository` of `source` to every destination (each
/// `copy_target::to` names the repository; the subjects must be there already). Per destination: the
/// destination's own referrers list is read once per subject (one request), the missing referrers are copied
/// by digest with copy_image_to_many (blobs first, shared blob ledger, mounts), subject before referrer at
/// every depth, then the fallback tag index is merged where the destination did not answer `OCI-Subject`,
/// and cosign tags are copied as tags. One result per destination, in order; a failure names the referrer.
boost::asio::awaitable<std::vector<result<referrers_stats>>>
copy_referrers(registry& source, std::string source_repository, referrer_subjects subjects,
               std::vector<copy_target> destinations, referrers_context& context, copy_options options);

} // namespace libregistry
