#pragma once
// The copy engine: one image (manifest or index, recursively) from one registry to another.
//
// Order is what keeps a destination consistent: every blob of a manifest is in place before the manifest is
// pushed, and every child of an index before the index, so a tag never points at something incomplete, and an
// interrupted copy resumes by skipping what is already there.
#include "libregistry/digest.hpp"
#include "libregistry/platform.hpp"
#include "libregistry/reference.hpp"
#include "libregistry/registry.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace libregistry {

struct copy_event {
    enum class kind { blob_started, blob_progress, blob_done, manifest_pushed };
    kind what;
    digest item;
    std::int64_t bytes = 0; ///< progress: bytes sent so far for this blob; started: its size
};

struct copy_options {
    /// Index entries to keep (`os/arch[/variant]`); empty keeps all and preserves the index digest.
    std::vector<platform> platforms;
    /// Blobs copied at once per image.
    std::size_t jobs = 6;
    /// Further tries of one blob transfer after a retryable failure.
    int blob_retries = 3;
    /// Push manifests even when the destination already has that digest under the tag.
    bool force = false;
    std::function<void(const copy_event&)> on_event;
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
    std::chrono::milliseconds duration{0};
};

/// Copies `from` (tag or digest) to `to` (tag or digest; with neither, `from`'s tag or digest is used).
boost::asio::awaitable<result<copy_stats>> copy_image(registry& source, reference from, registry& destination,
                                                      reference to, copy_options options);

} // namespace libregistry
