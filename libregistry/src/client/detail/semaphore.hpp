#pragma once
// A counting semaphore for coroutines on one io_context, and a guard that holds one unit for a scope.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <utility>

namespace libregistry::detail {

/// Counting semaphore. Waiters sleep on a timer that never expires and are woken by cancel_one().
class async_semaphore {
public:
    async_semaphore(boost::asio::any_io_executor executor, std::size_t count)
        : free_(count), timer_(executor, boost::asio::steady_timer::time_point::max()) {}

    boost::asio::awaitable<void> acquire() {
        while (free_ == 0)
            co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        --free_;
    }
    void release() {
        ++free_;
        timer_.cancel_one();
    }

private:
    std::size_t free_;
    boost::asio::steady_timer timer_;
};

/// Holds one unit of a semaphore for a scope.
class semaphore_guard {
public:
    explicit semaphore_guard(async_semaphore& s) : s_(&s) {}
    semaphore_guard(semaphore_guard&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    semaphore_guard(const semaphore_guard&) = delete;
    semaphore_guard& operator=(const semaphore_guard&) = delete;
    ~semaphore_guard() {
        if (s_) s_->release();
    }

private:
    async_semaphore* s_;
};

} // namespace libregistry::detail
