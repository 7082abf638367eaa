#pragma once
// Carries out a sync: lists tags once per repository, HEADs both sides of every (source tag, destination),
// plans with plan_sync, and copies what differs with one scheduler for the whole run (a global bound on
// parallel images, adaptive bounds per registry, one blob ledger so shared layers cross the wire once per
// destination registry), then retries failed images in further rounds. Last, for rules that prune, deletes
// the destination tags no rule maps to any more (plan_prune decides, safe_deleter deletes).
#include "libregistry/client/registry.hpp"
#include "libregistry/core/concurrency_limit.hpp"
#include "libregistry/sync/copy.hpp"
#include "libregistry/sync/prune_plan.hpp"
#include "libregistry/sync/safe_delete.hpp"
#include "libregistry/sync/sync_plan.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

namespace libregistry {

/// Hands out one registry client per registry name.
class registry_provider {
public:
    virtual ~registry_provider() = default;
    virtual registry& get(const std::string& registry_name) = 0;
};

/// `skipped`: already in sync. `interrupted`: the run was stopped (sync_options::stop) before the image was
/// copied; `attempts` is 0 when its copy never started. `excluded`: the platform filter matched nothing in
/// the image (errc::platform_mismatch), so nothing was copied and no retry round tries it again.
enum class image_status { copied, skipped, failed, planned, interrupted, excluded };
std::string_view to_string(image_status s);

struct image_result {
    sync_item item;
    image_status status = image_status::planned;
    std::optional<libregistry::digest> digest;
    std::string reason; ///< why copied or skipped (from the plan), or the error
    copy_stats stats;
    int attempts = 0;
};

struct sync_totals {
    int copied = 0;
    int skipped = 0;
    int failed = 0;
    int planned = 0;
    int interrupted = 0;
    int excluded = 0;
    std::uint64_t bytes_sent = 0;
    int blobs_uploaded = 0;
    int blobs_mounted = 0;
    int blobs_skipped = 0;
    int manifests_pushed = 0;
    int referrers_found = 0;
    int referrers_copied = 0;

    friend bool operator==(const sync_totals&, const sync_totals&) = default;
};

/// Counts the images by status and adds up their copy statistics.
sync_totals tally(const std::vector<image_result>& images);

/// One tag pruning deleted, would delete (dry run), left in place or failed to delete.
struct prune_result {
    std::string repository; ///< registry/repository
    std::string tag;
    delete_status status = delete_status::planned;
    std::string reason;
    std::string origin; ///< the pruning rule
};

/// A destination repository pruning left alone, and why.
struct prune_refusal {
    std::string repository; ///< registry/repository
    std::string reason;
    std::string origin;
    std::size_t would_delete = 0;
};

/// What the adaptive limits of one registry did (core/concurrency_limit.hpp).
struct registry_concurrency {
    std::string registry;
    concurrency_summary metadata;
    concurrency_summary blobs;     ///< uploads: a new upload's POST, and its body
    concurrency_summary downloads; ///< blob GETs, until their bodies are read
};

struct sync_report {
    std::vector<image_result> images;
    sync_totals totals;
    std::chrono::milliseconds duration{0};
    bool stopped = false; ///< a stop was requested before the run ended
    /// What the run noticed and worked around (tags a registry listed that are not tag names), printable.
    std::vector<std::string> warnings;
    std::vector<prune_result> deletions;
    std::vector<prune_refusal> prune_refusals;
    /// Per registry the run called, by name.
    std::vector<registry_concurrency> concurrency;
};

struct sync_event {
    enum class kind { planned, image_done, warning };
    kind what;
    const image_result* image = nullptr; ///< image_done
    std::size_t total = 0;               ///< planned: images to copy
    std::string message;                 ///< warning, printable
};

struct sync_options {
    std::size_t proc = 64; ///< images copied at once
    /// Concurrent calls per registry, adapted while the run goes (core/concurrency_limit.hpp): manifest, tag
    /// list, referrers, blob HEAD and delete requests, and blob transfers. The cap of the first also bounds
    /// how many listings and HEADs each phase starts at once.
    concurrency_settings metadata_concurrency = default_metadata_concurrency;
    concurrency_settings blob_concurrency = default_blob_concurrency;
    int retries = 2; ///< further rounds for failed images
    bool force = false;
    bool dry_run = false;
    libregistry::shard shard;
    copy_options copy; ///< jobs, blob transfer retry policy, platform filter
    std::function<void(const sync_event&)> on_event;
    /// Once a stop is requested the run winds down: no new tag list, HEAD, image, blob transfer or retry
    /// round starts, copies in flight finish what they are sending (see copy_options::stop), and run_sync
    /// returns the report with every unfinished image `interrupted`. May be requested from any thread.
    std::stop_token stop;
    /// The most tags pruning deletes in one destination repository (`--prune-max`); more are refused.
    prune_guard prune_max;
    /// Which referrers images bring, for rules without their own `referrers:` (on by default: every type).
    /// The images of a rule that carries referrers bring them whether copied or already in sync, and the
    /// rule's own tags of the tag schema and cosign (`sha256-<hex>[.<suffix>]`) are left to them instead of
    /// being copied as ordinary tags.
    referrer_policy referrers;
};

/// Runs the rules; fails only for errors in the rules themselves (an invalid regex, conflicting
/// destinations). Per-image failures are in the report.
boost::asio::awaitable<result<sync_report>> run_sync(std::vector<sync_rule> rules,
                                                     registry_provider& registries, sync_options options);

} // namespace libregistry
