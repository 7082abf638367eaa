#pragma once
// A bounded parallel loop for coroutines on one io_context, and two coroutines run at once.
#include "client/detail/awaitable_event.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <functional>

namespace libregistry::detail {

/// Runs `fn(i)` for every i in [0, n), at most `limit` at a time, and returns when all have finished.
/// An exception from any of them is rethrown once all are done.
inline boost::asio::awaitable<void>
for_each_bounded(std::size_t n, std::size_t limit,
                 std::function<boost::asio::awaitable<void>(std::size_t)> fn) {
    auto executor = co_await boost::asio::this_coro::executor;
    std::size_t workers = std::min(n, std::max<std::size_t>(limit, 1));
    if (workers == 0) co_return;
    std::size_t next = 0;
    std::size_t running = workers;
    std::exception_ptr failure;
    awaitable_event done(executor);
    auto worker = [&]() -> boost::asio::awaitable<void> {
        while (next < n) {
            auto i = next++;
            co_await fn(i);
        }
    };
    auto finished = [&](std::exception_ptr e) {
        if (e && !failure) failure = e;
        if (--running == 0) done.set();
    };
    for (std::size_t w = 0; w < workers; ++w)
        boost::asio::co_spawn(executor, worker, finished);
    co_await done.wait();
    if (failure) std::rethrow_exception(failure);
}

/// Runs `first` and `second` at once (started in that order) and returns when both have finished; an
/// exception from either is rethrown once both are done, so neither outlives the frame it uses.
inline boost::asio::awaitable<void> both(std::function<boost::asio::awaitable<void>()> first,
                                         std::function<boost::asio::awaitable<void>()> second) {
    std::function<boost::asio::awaitable<void>(std::size_t)> run = [&](std::size_t i) {
        return i == 0 ? first() : second();
    };
    co_await for_each_bounded(2, 2, run);
}

} // namespace libregistry::detail
