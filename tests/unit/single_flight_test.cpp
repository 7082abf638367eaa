// The coroutine primitives of the client layer: awaitable_event and the keyed single-flight.
#include "client/detail/awaitable_event.hpp"
#include "client/detail/single_flight.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace asio = boost::asio;
using libregistry::detail::awaitable_event;
using libregistry::detail::single_flight;

namespace {

asio::awaitable<void> sleep(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

} // namespace

TEST_CASE("awaitable_event wakes every waiter, and later waiters pass at once") {
    asio::io_context io;
    awaitable_event event(io.get_executor());
    int woken = 0;
    auto waiter = [&]() -> asio::awaitable<void> {
        co_await event.wait();
        ++woken;
    };
    for (int i = 0; i < 3; ++i)
        asio::co_spawn(io, waiter, asio::detached);
    io.run_for(std::chrono::milliseconds(20));
    CHECK(woken == 0);
    CHECK_FALSE(event.is_set());
    event.set();
    io.restart();
    io.run();
    CHECK(woken == 3);
    asio::co_spawn(io, waiter, asio::detached);
    io.restart();
    io.run();
    CHECK(woken == 4);
}

TEST_CASE("single_flight: concurrent callers for a key share one run; other keys and later calls run again") {
    asio::io_context io;
    single_flight<int> flights;
    int runs = 0;
    std::vector<int> got;
    auto call = [&](std::string key) -> asio::awaitable<void> {
        std::function<asio::awaitable<int>()> work = [&]() -> asio::awaitable<int> {
            int mine = ++runs;
            co_await sleep(std::chrono::milliseconds(20));
            co_return mine;
        };
        got.push_back(co_await flights.run(key, work));
    };
    for (int i = 0; i < 3; ++i)
        asio::co_spawn(io, call("a"), asio::detached);
    asio::co_spawn(io, call("b"), asio::detached);
    io.run();
    CHECK(runs == 2);
    REQUIRE(got.size() == 4);
    CHECK(std::count(got.begin(), got.end(), 1) + std::count(got.begin(), got.end(), 2) == 4);
    CHECK_FALSE(flights.in_flight("a"));
    asio::co_spawn(io, call("a"), asio::detached);
    io.restart();
    io.run();
    CHECK(runs == 3);
}

TEST_CASE("single_flight: a lease dropped without a value wakes the waiters, who decide again") {
    asio::io_context io;
    single_flight<int> flights;
    std::vector<std::string> events;
    auto leader = [&]() -> asio::awaitable<void> {
        auto lease = co_await flights.try_lead("k");
        REQUIRE(lease.has_value());
        events.push_back("leading");
        co_await sleep(std::chrono::milliseconds(20));
        events.push_back("giving up");
    }; // the lease ends here without finish()
    auto follower = [&]() -> asio::awaitable<void> {
        REQUIRE_FALSE((co_await flights.try_lead("k")).has_value());
        auto shared = co_await flights.wait("k");
        events.push_back(shared ? "got a value" : "got nothing");
        auto lease = co_await flights.try_lead("k");
        events.push_back(lease ? "leading next" : "still taken");
        if (lease) lease->finish(7);
    };
    asio::co_spawn(io, leader, asio::detached);
    asio::co_spawn(io, follower, asio::detached);
    io.run();
    CHECK(events == std::vector<std::string>{"leading", "giving up", "got nothing", "leading next"});
    CHECK_FALSE(flights.in_flight("k"));
}
