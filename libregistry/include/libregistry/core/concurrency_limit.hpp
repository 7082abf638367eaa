#pragma once
// How many calls into one registry may run at once, adapted to what the registry says (AIMD, as TCP's
// congestion window): start at a polite number; while the limit is in use, latency holds and nothing is
// throttled, grow by doubling (slow start) until the first decrease, then by one per window; halve on a
// throttle (a 429 or 503, a wait for a rate limit) or when latency rises, at most once per window; never
// above the cap nor below 1. A window is `limit` completed calls. No I/O: the caller says when calls start
// and finish and when the registry throttles (client/detail/adaptive_semaphore.hpp does, for sync_runner).
//
// Latency "holds" while the median latency of a window stays within 2x the lowest window median seen plus
// 25 ms: the slack keeps loopback and LAN registries, whose floor is a fraction of a millisecond, from
// reading the client's own scheduling (one thread answering dozens of calls) as queueing at the registry;
// with 10 ms a no-op sync on a busy loopback halved its limits 8-10 times a run. A window without latency
// samples (whole blob transfers, whose time depends on their size) judges by throttles alone.
#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

namespace libregistry {

struct concurrency_settings {
    std::size_t start = 16; ///< the limit at the first call
    std::size_t cap = 64;   ///< the most it grows to

    friend bool operator==(const concurrency_settings&, const concurrency_settings&) = default;
};

/// Defaults per registry: manifest, tag list, referrers, blob HEAD and mount requests (`metadata`), and blob
/// transfers (`blobs`: a download's GET, an upload's POST and its body).
inline constexpr concurrency_settings default_metadata_concurrency{16, 64};
inline constexpr concurrency_settings default_blob_concurrency{8, 16};

/// `s` bounded by a user's maximum (`--max-concurrency`): the cap becomes `max`, and so does the start when
/// it was above. `max` 0 leaves `s` as it is.
concurrency_settings capped(concurrency_settings s, std::size_t max) noexcept;

/// What a limit did over a run, for reports.
struct concurrency_summary {
    std::size_t start = 0;
    std::size_t max = 0;   ///< the highest limit reached
    std::size_t final = 0; ///< the limit at the end
    std::size_t cap = 0;
    std::size_t decreases = 0; ///< halvings (a throttle or rising latency)

    friend bool operator==(const concurrency_summary&, const concurrency_summary&) = default;
};

class concurrency_limit {
public:
    using duration = std::chrono::microseconds;

    /// A start of 0 counts as 1, a cap below the start as the start.
    explicit concurrency_limit(concurrency_settings settings);

    std::size_t limit() const noexcept { return limit_; }
    std::size_t in_flight() const noexcept { return in_flight_; }

    /// Starts a call when the limit has room for it; false: wait for a finish.
    bool try_start() noexcept;
    /// A started call ended; `latency` when its time is a fair sample (nullopt: a failure, or a transfer
    /// whose time depends on its size).
    void finish(std::optional<duration> latency);
    /// The registry throttled a request: halve, unless this window halved already.
    void throttled();

    concurrency_summary summary() const noexcept;

private:
    void decrease();
    void end_window();
    void new_window();

    std::size_t limit_;
    std::size_t cap_;
    std::size_t start_;
    std::size_t max_;
    std::size_t decreases_ = 0;
    std::size_t slow_start_until_; ///< doubling below this, +1 from it on (the cap until a decrease)
    std::size_t in_flight_ = 0;
    std::optional<duration> floor_; ///< lowest window median seen

    // The current window.
    std::size_t window_size_ = 0;
    std::size_t window_done_ = 0;
    std::vector<duration> samples_;
    bool saturated_ = false; ///< the limit was in full use at some point
    bool decreased_ = false; ///< a throttle halved the limit in this window
};

} // namespace libregistry
