#pragma once
// Retry policy: exponential backoff with full jitter, honouring a server's Retry-After.
#include <chrono>
#include <cstdint>
#include <optional>

namespace libregistry {

struct retry_policy {
    int max_attempts = 4; ///< total tries, the first included
    std::chrono::milliseconds base_delay{250};
    std::chrono::milliseconds max_delay{std::chrono::seconds(20)};
};

/// Delay before try `attempt` (1 = the first retry). A Retry-After from the server wins when it is longer;
/// `random` in [0, 1) spreads concurrent clients apart.
std::chrono::milliseconds backoff_delay(const retry_policy& policy, int attempt,
                                        std::optional<std::chrono::milliseconds> retry_after, double random);

/// A random number in [0, 1) for backoff_delay.
double jitter();

} // namespace libregistry
