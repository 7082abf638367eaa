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
#include <deque>
#include <memory>
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
        : limit_(settings), executor_(std::move(executor)) {}

    /// Waits until the limit has room. Permits go to waiters in the order they asked, handed over by
    /// release(): a caller arriving while others wait queues behind them instead of taking the room a woken
    /// waiter was about to take (which starved early callers, such as a run's tag listings, behind the
    /// HEADs their own answers set off). `urgent` callers queue ahead of the others: work that unlocks more
    /// work.
    boost::asio::awaitable<permit> acquire(bool urgent = false) {
        if (waiters_.empty() && limit_.try_start()) co_return permit(*this);
        auto w = std::make_shared<waiter>(executor_);
        if (urgent)
            waiters_.insert(std::find_if(waiters_.begin(), waiters_.end(),
                                         [](const std::shared_ptr<waiter>& o) { return !o->urgent; }),
                            w);
        else
            waiters_.push_back(w);
        w->urgent = urgent;
        while (!w->granted)
            co_await w->timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        co_return permit(*this);
    }

    /// The registry throttled a request: the limit halves (once per window); calls above it finish first.
    void throttled() {
        ++throttles_;
        limit_.throttled();
    }

    concurrency_summary summary() const noexcept { return limit_.summary(); }

private:
    struct waiter {
        explicit waiter(boost::asio::any_io_executor ex)
            : timer(std::move(ex), boost::asio::steady_timer::time_point::max()) {}
        boost::asio::steady_timer timer; ///< never expires: cancelled when the permit is granted
        bool urgent = false;
        bool granted = false;
    };

    void release(std::optional<concurrency_limit::duration> latency) {
        limit_.finish(latency);
        while (!waiters_.empty() && limit_.try_start()) {
            auto w = std::move(waiters_.front());
            waiters_.pop_front();
            w->granted = true;
            w->timer.cancel();
        }
    }

    concurrency_limit limit_;
    boost::asio::any_io_executor executor_;
    std::deque<std::shared_ptr<waiter>> waiters_;
    std::uint64_t throttles_ = 0;
};

} // namespace libregistry::detail
