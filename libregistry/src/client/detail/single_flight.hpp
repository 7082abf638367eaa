#pragma once
// Keyed single-flight: the first caller for a key does the work, later callers for the same key wait for it
// and share its value. Used for the registry ping, token requests, source HEADs and blob transfers.
#include "client/detail/awaitable_event.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/this_coro.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace libregistry::detail {

template <class V>
class single_flight {
    struct flight {
        explicit flight(boost::asio::any_io_executor ex) : done(std::move(ex)) {}
        awaitable_event done;
        std::optional<V> value; ///< empty when the leader gave up without a value
    };

public:
    /// The right to do the work for one key. finish() hands the value to the waiters; a lease dropped without
    /// finish() wakes them with nothing, and they decide again (see wait()).
    class lease {
    public:
        lease(lease&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), key_(std::move(o.key_)) {}
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        lease& operator=(lease&&) = delete;
        ~lease() { release(std::nullopt); }

        void finish(V value) { release(std::move(value)); }

    private:
        friend class single_flight;
        lease(single_flight& owner, std::string key) : owner_(&owner), key_(std::move(key)) {}

        void release(std::optional<V> value) {
            if (!owner_) return;
            auto it = owner_->flights_.find(key_);
            if (it != owner_->flights_.end()) {
                auto f = it->second;
                owner_->flights_.erase(it);
                f->value = std::move(value);
                f->done.set();
            }
            owner_ = nullptr;
        }

        single_flight* owner_;
        std::string key_;
    };

    bool in_flight(const std::string& key) const { return flights_.count(key) > 0; }

    /// The lease for `key`, or nullopt when another caller holds it.
    boost::asio::awaitable<std::optional<lease>> try_lead(std::string key) {
        if (flights_.count(key)) co_return std::nullopt;
        auto ex = co_await boost::asio::this_coro::executor;
        flights_.emplace(key, std::make_shared<flight>(ex));
        co_return lease(*this, std::move(key));
    }

    /// Waits for the work in flight for `key`: its value, or nullopt when nothing was in flight or its leader
    /// gave up.
    boost::asio::awaitable<std::optional<V>> wait(std::string key) {
        auto it = flights_.find(key);
        if (it == flights_.end()) co_return std::nullopt;
        auto f = it->second; // keeps the flight alive after the leader erased it
        co_await f->done.wait();
        co_return f->value;
    }

    /// Runs `work` unless a call for `key` is in flight, in which case that call's value is shared.
    boost::asio::awaitable<V> run(std::string key, std::function<boost::asio::awaitable<V>()> work) {
        for (;;) {
            if (auto l = co_await try_lead(key)) {
                V value = co_await work();
                l->finish(value);
                co_return value;
            }
            if (auto shared = co_await wait(key)) co_return std::move(*shared);
        }
    }

private:
    std::map<std::string, std::shared_ptr<flight>, std::less<>> flights_;
};

} // namespace libregistry::detail
