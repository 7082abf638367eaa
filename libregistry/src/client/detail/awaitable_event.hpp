#pragma once
// A one-shot event for coroutines on one io_context: waiters suspend until set() is called, then all resume.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace libregistry::detail {

class awaitable_event {
public:
    explicit awaitable_event(boost::asio::any_io_executor executor)
        : timer_(std::move(executor), boost::asio::steady_timer::time_point::max()) {}

    /// Wakes every waiter, now and later.
    void set() {
        set_ = true;
        timer_.cancel();
    }
    bool is_set() const noexcept { return set_; }

    boost::asio::awaitable<void> wait() {
        // A timer that never expires is Asio's cheapest waitable; cancel() is the wake-up.
        while (!set_)
            co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }

private:
    bool set_ = false;
    boost::asio::steady_timer timer_;
};

} // namespace libregistry::detail
