#pragma once
// The slowest a body may move, and the quantities it is given in ("1KiB/s", "60s").
//
// A server sending a blob a byte a second never trips an idle timeout, which re-arms on every byte: a 256 KiB
// layer would take three days. So every body (a blob download, a streamed upload) must move at least
// `bytes_per_second × window` bytes in each `window` spent waiting on the network for it; slower is a failure
// the caller retries (a download resumes with Range), and a stall is simply a rate of 0. Only time spent
// waiting for the other side counts: a consumer that reads slowly (an upload holding back the download that
// feeds it) is not blamed on the server.
#include "libregistry/core/duration.hpp"
#include "libregistry/core/error.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace libregistry {

/// At least `bytes_per_second` averaged over every `window` of waiting; `bytes_per_second` 0: no minimum.
struct min_transfer_rate {
    std::uint64_t bytes_per_second = 1024;
    std::chrono::milliseconds window{std::chrono::seconds(60)};
};

/// One body held to a min_transfer_rate. Waiting time is cut into stretches that end as soon as they have
/// moved `bytes_per_second × window` bytes; a stretch that reaches `window` of waiting first breaks the
/// floor.
class rate_floor {
public:
    using duration = std::chrono::steady_clock::duration;

    explicit rate_floor(min_transfer_rate limit) noexcept;

    /// How long the next wait may last before the floor is broken; nullopt when there is no minimum.
    std::optional<duration> allowance() const noexcept;
    /// Records a wait that lasted `waited` and moved `bytes`; false once the floor is broken.
    bool record(std::uint64_t bytes, duration waited) noexcept;

    /// "arrived at 12 B/s, below the minimum of 1 KiB/s over 1m" for the current stretch, after `verb`
    /// ("arrived", "was taken").
    std::string describe(std::string_view verb) const;

private:
    min_transfer_rate limit_;
    std::uint64_t quota_ = 0; ///< bytes a stretch must move
    std::uint64_t moved_ = 0; ///< in the current stretch
    duration waited_{0};      ///< in the current stretch
};

/// "12 B/s", "1 KiB/s", "1.5 MiB/s".
std::string format_rate(double bytes_per_second);

/// A rate as people write it: a number, an optional unit (B; KiB, MiB, GiB = 1024^n; kB, MB, GB = 1000^n; the
/// letters in any case) and an optional "/s": `1KiB/s`, `512 B/s`, `2.5MiB/s`, `1000`. "0" is 0.
result<std::uint64_t> parse_rate(std::string_view text);

} // namespace libregistry
