#pragma once
// The one retry engine: when to try a request again, how long to wait first, and when to stop.
//
// Decisions are pure functions of what an attempt came to and how many attempts were made, so they are tested
// as a table (tests/unit/retry_test.cpp); the registry session's request loop is the one place that acts on
// them. The attempt budget is shared across levels: a request is sent at most `max_attempts` times in a
// round, whether the request loop retries it (buffered and resumable requests) or the copy engine does (a
// streamed upload that must start over). A failure that used up its attempts below is not retried above. A
// sync's retry rounds (`sync_options::retries`) start images over after a pause, so one request is sent at
// most `max_attempts * (1 + retries)` times in a run. docs/architecture.md has the table.
#include "libregistry/core/error.hpp"

#include <chrono>
#include <optional>

namespace libregistry {

struct retry_policy {
    int max_attempts = 4; ///< tries of one request, the first included, across every level that retries it
    std::chrono::milliseconds base_delay{250};
    std::chrono::milliseconds max_delay{std::chrono::seconds(20)};
};

/// Delay before try `attempt + 1` after `attempt` failed (1 = the first try failed). Full jitter: uniform in
/// [0, min(max_delay, base_delay * 2^(attempt-1))), so parallel transfers that failed together do not come
/// back together. A Retry-After from the server wins when it is longer. `random` is in [0, 1).
std::chrono::milliseconds backoff_delay(const retry_policy& policy, int attempt,
                                        std::optional<std::chrono::milliseconds> retry_after, double random);

/// A random number in [0, 1) for backoff_delay.
double jitter();

/// What one attempt of a request came to.
struct attempt_outcome {
    int status = 0;                                       ///< the HTTP status; 0 when no response was read
    std::optional<error> failure;                         ///< why no response was read (status 0)
    std::optional<std::chrono::milliseconds> retry_after; ///< Retry-After, parsed
    /// The registry asks for a longer wait than the client may wait (rate_limit.hpp): a quota that resets
    /// later, or a long Retry-After.
    bool beyond_max_wait = false;
    std::optional<errc> body_code; ///< the first OCI `errors[].code` of an error body
};

/// The request that was attempted.
struct attempt_context {
    int attempt = 1;                 ///< 1 for the first try
    bool replayable = true;          ///< its body can be sent again (a streamed upload's cannot)
    bool may_reauthenticate = false; ///< a 401 from the registry's own host, not re-authenticated yet
    bool monolithic_upload = false;  ///< a one-shot blob PUT: some refusals mean "send chunks instead"
    bool fallback_available = false; ///< another way exists (plain HTTP after HTTPS): transport failures stop
};

enum class retry_action {
    stop,              ///< the outcome is final: hand the response (or the failure) to the caller
    retry,             ///< send again after `delay`
    reauthenticate,    ///< fetch fresh credentials from the 401's challenge and send again at once
    switch_to_chunked, ///< the registry refused a one-shot upload: start over in PATCH chunks
};

struct retry_decision {
    retry_action action = retry_action::stop;
    std::chrono::milliseconds delay{0};

    friend bool operator==(const retry_decision&, const retry_decision&) = default;
};

/// The request loop's decision. Transport failures that are passing (resets, timeouts), 429 and 5xx are
/// retried with backoff while attempts remain and the body can be replayed; a 429 or 503 asking for a wait
/// beyond the client's maximum is not (a quota that resets in hours). A 401 re-authenticates once without
/// using an attempt, when the body can be sent again (a streamed upload's 401 is final: the copy engine
/// starts it over with a fresh token). A transport failure with a fallback available is final, so the caller
/// moves on to the fallback. A one-shot upload refused with 400/405/413/416 (other than DIGEST_INVALID)
/// switches to chunks. Everything else is final. `random` is in [0, 1).
retry_decision decide_retry(const attempt_outcome& outcome, const attempt_context& context,
                            const retry_policy& policy, double random);

/// The copy engine's decision for a whole blob transfer that failed with `failure` on its `attempt`-th try
/// (1 = the first): retry when the failure is passing and the request that failed did not already use the
/// shared budget (`error::attempts`), and when the transfer itself has tries left. A refused one-shot upload
/// (errc::unsupported) or a rejected token (errc::unauthorized) gets one more try regardless: the session has
/// switched to chunks or dropped the token by then.
bool retry_transfer(const error& failure, int attempt, bool second_chance_used, const retry_policy& policy);

/// The pause before a sync's retry round `round` (1 = the first): 2 s, 4 s, ... at most 10 s, so a
/// struggling registry gets a moment before its images are tried again. Tag listings that failed are tried
/// again on the same schedule.
std::chrono::milliseconds round_pause(int round);

} // namespace libregistry
