#pragma once
// Coroutine helpers for a single-threaded io_context: a counting semaphore and a bounded parallel loop.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <exception>
#include <functional>

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

/// Runs `fn(i)` for every i in [0, n), at most `limit` at a time, and returns when all have finished.
/// An exception from any of them is rethrown once all are done.
inline boost::asio::awaitable<void>
for_each_bounded(std::size_t n, std::size_t limit,
                 std::function<boost::asio::awaitable<void>(std::size_t)> fn) {
    auto executor = co_await boost::asio::this_coro::executor;
    std::size_t workers = std::min(n, std::max<std::size_t>(limit, 1));
    std::size_t next = 0;
    std::size_t running = workers;
    std::exception_ptr failure;
    boost::asio::steady_timer done(executor, boost::asio::steady_timer::time_point::max());
    auto worker = [&]() -> boost::asio::awaitable<void> {
        while (next < n) {
            auto i = next++;
            co_await fn(i);
        }
    };
    auto finished = [&](std::exception_ptr e) {
        if (e && !failure) failure = e;
        if (--running == 0) done.cancel();
    };
    for (std::size_t w = 0; w < workers; ++w)
        boost::asio::co_spawn(executor, worker, finished);
    while (running > 0)
        co_await done.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (failure) std::rethrow_exception(failure);
}

} // namespace libregistry::detail
