#include "libregistry/core/concurrency_limit.hpp"

#include <algorithm>

namespace libregistry {

namespace {

// Latency holds while a window's median stays below factor x floor + slack (the header says why).
constexpr int rising_factor = 2;
constexpr std::chrono::microseconds rising_slack{25'000};

} // namespace

concurrency_settings capped(concurrency_settings s, std::size_t max) noexcept {
    if (max == 0) return s;
    s.cap = max;
    s.start = std::min(s.start, max);
    return s;
}

concurrency_limit::concurrency_limit(concurrency_settings settings)
    : limit_(std::max<std::size_t>(settings.start, 1)), cap_(std::max(settings.cap, limit_)), start_(limit_),
      max_(limit_), slow_start_until_(cap_) {
    new_window();
}

bool concurrency_limit::try_start() noexcept {
    if (in_flight_ >= limit_) return false;
    if (++in_flight_ >= limit_) saturated_ = true;
    return true;
}

void concurrency_limit::finish(std::optional<duration> latency) {
    if (in_flight_ > 0) --in_flight_;
    if (latency) samples_.push_back(*latency);
    if (++window_done_ >= window_size_) end_window();
}

void concurrency_limit::throttled() {
    if (decreased_) return;
    decrease();
    // The window starts over at the decrease: the calls sent at the old limit come back throttled too, and
    // only a full window at the new limit tells whether it is still too many.
    new_window();
    decreased_ = true;
}

void concurrency_limit::decrease() {
    const auto halved = std::max<std::size_t>(limit_ / 2, 1);
    if (halved < limit_) ++decreases_;
    limit_ = halved;
    slow_start_until_ = limit_;
}

void concurrency_limit::end_window() {
    std::optional<duration> median;
    if (!samples_.empty()) {
        auto middle = samples_.begin() + static_cast<std::ptrdiff_t>(samples_.size() / 2);
        std::nth_element(samples_.begin(), middle, samples_.end());
        median = *middle;
    }
    const bool rising = median && floor_ && *median > rising_factor * *floor_ + rising_slack;
    if (median && (!floor_ || *median < *floor_)) floor_ = median;
    if (decreased_) {
        // A throttle decided this window already.
    } else if (rising) {
        if (limit_ == 1)
            floor_ = median; // one call at a time is this slow: the path got slower, nothing queues here
        else
            decrease();
    } else if (saturated_) {
        limit_ =
            std::min(limit_ < slow_start_until_ ? std::min(limit_ * 2, slow_start_until_) : limit_ + 1, cap_);
        max_ = std::max(max_, limit_);
    }
    new_window();
}

void concurrency_limit::new_window() {
    window_size_ = limit_;
    window_done_ = 0;
    samples_.clear();
    saturated_ = in_flight_ >= limit_;
    decreased_ = false;
}

concurrency_summary concurrency_limit::summary() const noexcept {
    return concurrency_summary{start_, max_, limit_, cap_, decreases_};
}

} // namespace libregistry
