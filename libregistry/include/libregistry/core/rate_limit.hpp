#pragma once
// Rate limits as registries announce them, and when the next request to a registry may go out.
//
// Two header shapes are in use, names case-insensitive:
// - the IETF RateLimit header fields draft (draft-ietf-httpapi-ratelimit-headers, the separate-field form):
//   `RateLimit-Limit: 100;w=21600`, `RateLimit-Remaining: 0`, `RateLimit-Reset: 3600` (seconds until the
//   quota resets), usually with `Retry-After` on the 429 itself;
// - Docker Hub's: `ratelimit-limit: 100;w=21600`, `ratelimit-remaining: 0;w=21600`, and neither a reset nor
//   a Retry-After.
//
// The rules (docs/reliability.md): a 429 or 503 with a Retry-After pauses every request to the registry until
// then, once for all of them. A used-up quota with a known reset (RateLimit-Reset, or the Retry-After of the
// 429 that said so) holds back pulls (manifest GETs, what Docker Hub counts) until it resets, and every
// request when one that is not a pull was refused for it. A wait longer than the client's maximum is not
// waited for: the requests it holds back fail at once, saying when it ends. What is remembered ends when its
// time passes. A quota reported used up with no reset time is not remembered at all: a window (`w=`) says how
// long the quota is counted over, not when it resets, so requests go out and the registry's 429s are retried
// with backoff like any other.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace libregistry {

struct rate_limit_remaining {
    long long remaining = 0;
    long long window_seconds = 0; ///< 0 when the header names no window: unknown
};

/// Parses a RateLimit-Remaining value (`0`, `76;w=21600`); nullopt when it is absent or not a number.
std::optional<rate_limit_remaining> parse_rate_limit_remaining(std::string_view header) noexcept;

/// Parses a RateLimit-Reset value: delta-seconds until the quota resets (parameters after `;` ignored);
/// nullopt when it is absent or not a number.
std::optional<std::chrono::seconds> parse_rate_limit_reset(std::string_view header) noexcept;

/// The rate-limit headers of one answer, raw.
struct rate_limit_headers {
    std::string_view remaining;   ///< RateLimit-Remaining
    std::string_view reset;       ///< RateLimit-Reset
    std::string_view retry_after; ///< Retry-After: delta-seconds or an HTTP date
};

/// What a registry's answers said about its limits, and so what holds requests back. Times are wall-clock
/// times (a Retry-After may be a date); a time that has passed holds nothing back.
struct rate_limit_state {
    using clock = std::chrono::system_clock;

    /// Every request waits until then: the registry answered 429 or 503 with a known wait.
    std::optional<clock::time_point> paused_until;
    /// The pause is for a used-up quota (RateLimit-Remaining 0), which says how a refusal is worded.
    bool pause_is_quota = false;
    /// Pulls wait until then: the registry said its quota is used up and when it resets.
    std::optional<clock::time_point> quota_resets_at;
    /// The quota's window in seconds (`w=`), for messages; 0 when unknown.
    long long window_seconds = 0;

    /// Takes in an answer with `status` and `headers` to a request (`pull`: a manifest GET), received at
    /// `now`.
    void observe(int status, const rate_limit_headers& headers, bool pull, clock::time_point now);
};

enum class rate_limit_action {
    go,     ///< send the request now
    wait,   ///< wait until `until`, then ask again
    refuse, ///< the wait is longer than the maximum: fail the request with refusal_message()
};

struct rate_limit_verdict {
    rate_limit_action action = rate_limit_action::go;
    rate_limit_state::clock::time_point until{}; ///< wait and refuse: when the registry takes requests again
    bool quota = false;                          ///< what holds the request back is a used-up quota

    friend bool operator==(const rate_limit_verdict&, const rate_limit_verdict&) = default;
};

/// Whether a request may go out at `now`: `pull` is a request the registry counts against its pull quota (a
/// manifest GET). A wait of at most `max_wait` is waited; a longer one is refused.
rate_limit_verdict admit(const rate_limit_state& state, bool pull, rate_limit_state::clock::time_point now,
                         std::chrono::milliseconds max_wait);

/// Why a refused request was not sent, e.g. "pull limit of docker.io used up; it resets in 5h 12m (at
/// 2026-12-05T20:43:00Z), later than the maximum wait of 5m; raise the maximum wait to wait for it, or run
/// again then".
std::string refusal_message(std::string_view registry, const rate_limit_verdict& verdict,
                            rate_limit_state::clock::time_point now, std::chrono::milliseconds max_wait);

} // namespace libregistry
