#pragma once
// `syncer verify`: whether the destinations of a set of sync rules still hold what the rules would copy.
// HEAD-only by default: one HEAD per source tag, one per destination tag, and the destination tag lists of
// the repositories whole-repository and regex rules write (for `extra`). With `deep`, every destination
// image is also read back: each manifest, config and layer blob is fetched, streamed through layer_digester
// and checked against its descriptor (size, digest) and, for layers, against the config's
// `rootfs.diff_ids`; and the tag-schema referrer tags the source lists for a verified digest
// (`sha256-<hex>`, `.sig`, `.att`, `.sbom`, as cosign writes them) must be at the destination too.
#include "libregistry/client/registry.hpp"
#include "libregistry/core/platform.hpp"
#include "libregistry/sync/sync_plan.hpp"
#include "libregistry/sync/sync_runner.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace libregistry {

/// in_sync: equal digests (and, deep, every blob checked). missing: no such tag at the destination.
/// different: the digests differ. extra: a destination tag no rule writes. damaged (deep): a manifest or
/// blob at the destination does not match what refers to it. incomplete (deep): a referrer tag of the
/// source is missing or different at the destination. failed: could not be checked (a HEAD or listing
/// failed, the source has no such tag). excluded: the platform filter matches nothing in the source.
/// interrupted: a stop came first. Every status but in_sync and excluded is drift.
enum class verify_status {
    in_sync,
    missing,
    different,
    extra,
    damaged,
    incomplete,
    failed,
    excluded,
    interrupted
};
std::string_view to_string(verify_status s);

struct verify_result {
    /// For `extra`, source names the rule's source repository (no tag) and destination the extra tag.
    sync_item item;
    verify_status status = verify_status::in_sync;
    std::optional<digest> source_digest;
    std::optional<digest> destination_digest;
    std::string reason;
    /// Deep: one line per wrong manifest, blob, layer or referrer tag, naming the image and what is wrong.
    std::vector<std::string> problems;
    int blobs_checked = 0;
    std::uint64_t bytes_checked = 0;
};

struct verify_totals {
    int in_sync = 0;
    int missing = 0;
    int different = 0;
    int extra = 0;
    int damaged = 0;
    int incomplete = 0;
    int failed = 0;
    int excluded = 0;
    int interrupted = 0;
    int blobs_checked = 0;
    std::uint64_t bytes_checked = 0;

    int drift() const { return missing + different + extra + damaged + incomplete; }
    friend bool operator==(const verify_totals&, const verify_totals&) = default;
};

verify_totals tally(const std::vector<verify_result>& results);

struct verify_report {
    std::vector<verify_result> images;
    verify_totals totals;
    std::chrono::milliseconds duration{0};
    bool deep = false;
    bool stopped = false;
    std::vector<std::string> warnings; ///< printable
};

struct verify_options {
    std::size_t proc = 5;          ///< images checked at once (sync's --proc)
    std::size_t jobs = 6;          ///< blobs read at once per image (sync's --jobs)
    std::size_t per_registry = 16; ///< HEADs and listings in flight
    bool deep = false;
    std::vector<platform> platforms; ///< sync's --os/--arch: an index is compared as the filter leaves it
    libregistry::shard shard;
    std::function<void(const verify_result&)> on_result;
    std::function<void(const std::string&)> on_warning;
    std::stop_token stop;
};

/// Checks the rules' destinations. Fails only for errors in the rules (an invalid regex); everything found
/// is in the report.
boost::asio::awaitable<result<verify_report>>
run_verify(std::vector<sync_rule> rules, registry_provider& registries, verify_options options);

} // namespace libregistry
