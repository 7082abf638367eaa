#include "libregistry/core/retry.hpp"

#include <algorithm>
#include <random>

namespace libregistry {

std::chrono::milliseconds backoff_delay(const retry_policy& policy, int attempt,
                                        std::optional<std::chrono::milliseconds> retry_after, double random) {
    // Full jitter (delay uniform in [0, base * 2^attempt)) keeps parallel transfers that failed together from
    // retrying together; half of the window is kept fixed so a retry never comes back instantly.
    auto exponent = std::clamp(attempt - 1, 0, 16);
    auto window = std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(policy.base_delay.count() << exponent), policy.max_delay);
    auto delay =
        window / 2 + std::chrono::milliseconds(static_cast<long long>(window.count() / 2.0 * random));
    if (retry_after && *retry_after > delay) delay = *retry_after;
    return delay;
}

double jitter() {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

} // namespace libregistry
