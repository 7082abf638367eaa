#pragma once
// A semaphore for coroutines on one io_context whose number of permits follows a concurrency_limit: each
// permit reports its call's latency when it ends, and the registry's throttles go to the limit.
#include "libregistry/core/concurrency_limit.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>

namespace libregistry::detail {

class adaptive_semaphore {
public:
    /// One running call. finish() says how it went; a permit dropped without it counts as a call without a
    /// latency sample.
    class permit {
    public:
        permit(permit&& o) noexcept
            : s_(std::exchange(o.s_, nullptr)), started_(o.started_),
              throttles_at_start_(o.throttles_at_start_) {}
        permit(const permit&) = delete;
        permit& operator=(const permit&) = delete;
        ~permit() {
            if (s_) s_->release(std::nullopt);
        }
        /// `sample`: the call's time says something about the registry's load (it succeeded, and its time
        /// does not depend on a size). A call during which the registry throttled gives no sample either: its
        /// time may hold a retry's backoff or a rate-limit wait, and the throttle has spoken already.
        void finish(bool sample) {
            if (!s_) return;
            std::optional<concurrency_limit::duration> latency;
            if (sample && s_->throttles_ == throttles_at_start_)
                latency = std::chrono::duration_cast<concurrency_limit::duration>(
                    std::chrono::steady_clock::now() - started_);
            std::exchange(s_, nullptr)->release(latency);
        }

    private:
        friend class adaptive_semaphore;
        explicit permit(adaptive_semaphore& s)
            : s_(&s), started_(std::chrono::steady_clock::now()), throttles_at_start_(s.throttles_) {}
        adaptive_semaphore* s_;
        std::chrono::steady_clock::time_point started_;
        std::uint64_t throttles_at_start_;
    };

    adaptive_semaphore(boost::asio::any_io_executor executor, concurrency_settings settings)
        : limit_(settings), timer_(executor, boost::asio::steady_timer::time_point::max()) {}

    /// Waits until the limit has room. Waiters sleep on a timer that never expires; release() wakes as many
    /// as there is room for, and a woken waiter that finds none (another took it) sleeps again.
    boost::asio::awaitable<permit> acquire() {
        while (!limit_.try_start())
            co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        co_return permit(*this);
    }

    /// The registry throttled a request: the limit halves (once per window); calls above it finish first.
    void throttled() {
        ++throttles_;
        limit_.throttled();
    }

    concurrency_summary summary() const noexcept { return limit_.summary(); }

private:
    void release(std::optional<concurrency_limit::duration> latency) {
        limit_.finish(latency);
        for (auto room = limit_.limit() - std::min(limit_.limit(), limit_.in_flight()); room > 0; --room)
            if (timer_.cancel_one() == 0) break;
    }

    concurrency_limit limit_;
    boost::asio::steady_timer timer_;
    std::uint64_t throttles_ = 0;
};

} // namespace libregistry::detail
