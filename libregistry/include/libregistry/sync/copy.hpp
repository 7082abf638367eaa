#pragma once
// The copy engine: one image (manifest or index, recursively) from one registry to another.
//
// Order is what keeps a destination consistent: every blob of a manifest is in place before the manifest is
// pushed, and every child of an index before the index, so a tag never points at something incomplete, and an
// interrupted copy resumes by skipping what is already there.
#include "libregistry/client/registry.hpp"
#include "libregistry/core/digest.hpp"
#include "libregistry/core/platform.hpp"
#include "libregistry/core/reference.hpp"
#include "libregistry/core/referrers.hpp"
#include "libregistry/core/retry.hpp"
#include "libregistry/sync/blob_ledger.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace libregistry {

class referrers_context;

struct copy_event {
    enum class kind { blob_started, blob_progress, blob_done, manifest_pushed };
    kind what;
    digest item;
    /// progress: bytes sent so far for this blob; started: its size (-1 when unknown: schema 1); done: the
    /// bytes sent.
    std::int64_t bytes = 0;
};

struct copy_options {
    /// Platforms to keep (`os/arch[/variant]`); empty copies everything as it is. An index keeps the entries
    /// that match, looking into nested indexes, and is rewritten (a new digest) unless every entry matched;
    /// a single image is copied unchanged when its platform matches. When nothing matches, the copy fails
    /// with errc::platform_mismatch and writes nothing.
    std::vector<platform> platforms;
    /// Blobs copied at once per image.
    std::size_t jobs = 6;
    /// Tries of one blob transfer, the first included, shared with the tries the failed request already had
    /// (retry.hpp, retry_transfer). Only max_attempts is read here: a transfer starts over at once.
    retry_policy retry;
    /// Push manifests even when the destination already has that digest under the tag.
    bool force = false;
    std::function<void(const copy_event&)> on_event;
    /// Shared with other copies of the same run; a private one is used when null.
    blob_ledger* ledger = nullptr;
    /// The caller already HEADed the source (a sync plan): no source HEAD, and this digest is read. Without a
    /// platform filter the caller compared digests too, and the copy goes ahead at once.
    std::optional<digest> known_source_digest;
    /// Once a stop is requested, nothing new starts: no blob transfer, retry, child or manifest push. What is
    /// in flight goes on (a caller in a hurry closes the connections). Unfinished targets fail with
    /// errc::cancelled, and since manifests wait for their content, no tag points at a partial image.
    std::stop_token stop;
    /// Carries the referrers (signatures, SBOMs, attestations) of what each target ends up holding, after it
    /// (referrers_copy.hpp), as the context's policy says; null or a disabled policy: none. A referrer that
    /// cannot be carried fails the target, saying the image itself is in place.
    referrers_context* referrers = nullptr;
};

struct copy_stats {
    digest manifest_digest; ///< of what the destination tag now points at
    std::string media_type;
    bool up_to_date = false; ///< the destination already had it; nothing was written
    bool filtered = false;   ///< a platform filter rewrote the index (its digest differs from the source's)
    std::uint64_t bytes_sent = 0;
    int blobs_uploaded = 0;
    int blobs_mounted = 0;
    int blobs_skipped = 0;
    int manifests_pushed = 0;
    /// The PUT of the manifest under the target's reference answered `OCI-Subject`: the destination indexed
    /// it under its subject (registry.hpp, pushed_manifest). False when nothing was pushed.
    bool subject_indexed = false;
    referrers_stats referrers; ///< with copy_options::referrers
    std::chrono::milliseconds duration{0};
};

/// Copies `from` (tag or digest) to `to` (tag or digest; with neither, `from`'s tag or digest is used).
boost::asio::awaitable<result<copy_stats>> copy_image(registry& source, reference from, registry& destination,
                                                      reference to, copy_options options);

struct copy_target {
    registry* destination;
    reference to;
    /// What the destination held under `to` when the caller looked just before (a sync plan's HEAD): its
    /// digest, or nullopt for nothing. Compared instead of a second HEAD; unset, the copy sends the HEAD.
    std::optional<std::optional<digest>> observed;
};

/// Copies `from` to several destinations at once: the source manifest is read once, and a blob that
/// destinations on different registries all lack is downloaded once and streamed to all of them in lockstep
/// (each upload still verifies it). Destinations on the same registry mount from the first. One result per
/// target, in order.
boost::asio::awaitable<std::vector<result<copy_stats>>>
copy_image_to_many(registry& source, reference from, std::vector<copy_target> targets, copy_options options);

} // namespace libregistry
