#include "libregistry/core/retry.hpp"

#include <algorithm>
#include <random>

namespace libregistry {

std::chrono::milliseconds backoff_delay(const retry_policy& policy, int attempt,
                                        std::optional<std::chrono::milliseconds> retry_after, double random) {
    auto exponent = std::clamp(attempt - 1, 0, 16);
    auto window = std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(policy.base_delay.count() << exponent), policy.max_delay);
    auto delay = std::chrono::milliseconds(
        static_cast<long long>(static_cast<double>(window.count()) * std::clamp(random, 0.0, 1.0)));
    if (retry_after && *retry_after > delay) delay = *retry_after;
    return delay;
}

double jitter() {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

retry_decision decide_retry(const attempt_outcome& outcome, const attempt_context& context,
                            const retry_policy& policy, double random) {
    const bool attempts_left = context.attempt < policy.max_attempts;
    auto again = [&](std::optional<std::chrono::milliseconds> after) {
        return retry_decision{retry_action::retry, backoff_delay(policy, context.attempt, after, random)};
    };
    if (outcome.status == 0) {
        bool passing = outcome.failure && outcome.failure->retryable();
        if (passing && context.replayable && attempts_left && !context.fallback_available)
            return again(outcome.failure->retry_after);
        return {};
    }
    if (outcome.status == 401 && context.may_reauthenticate && context.replayable)
        return {retry_action::reauthenticate, {}};
    if (context.monolithic_upload && outcome.body_code != errc::digest_invalid &&
        (outcome.status == 400 || outcome.status == 405 || outcome.status == 413 || outcome.status == 416))
        return {retry_action::switch_to_chunked, {}};
    if ((outcome.status == 429 || outcome.status == 503) && outcome.beyond_max_wait) return {};
    if ((outcome.status == 429 || outcome.status >= 500) && context.replayable && attempts_left)
        return again(outcome.retry_after);
    return {};
}

bool retry_transfer(const error& failure, int attempt, bool second_chance_used, const retry_policy& policy) {
    if (failure.code == errc::cancelled) return false;
    if (!second_chance_used && (failure.code == errc::unsupported || failure.code == errc::unauthorized))
        return true;
    return failure.retryable() && failure.attempts < policy.max_attempts && attempt < policy.max_attempts;
}

std::chrono::milliseconds round_pause(int round) {
    return std::chrono::seconds(std::clamp(round, 1, 5) * 2);
}

} // namespace libregistry
