#include "sync/detail/tee.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace libregistry::detail {

namespace asio = boost::asio;

tee::tee(blob_reader& source, std::size_t consumers, std::size_t chunk_size, asio::any_io_executor ex)
    : source_(source), chunk_(chunk_size), wake_(ex, asio::steady_timer::time_point::max()),
      states_(consumers), active_(consumers) {
    for (std::size_t i = 0; i < consumers; ++i)
        readers_.push_back(std::make_unique<reader>(*this, i));
}

void tee::detach(std::size_t i) {
    auto& st = states_[i];
    if (st.detached) return;
    st.detached = true;
    --active_;
    if (st.next == seq_ && pending_ > 0) --pending_;
    wake_.cancel();
}

asio::awaitable<void> tee::started(std::size_t i) {
    while (!states_[i].started && !states_[i].detached)
        co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<result<std::size_t>> tee::reader::read(std::span<std::byte> buffer) {
    co_return co_await tee_.read(index_, buffer);
}

asio::awaitable<result<std::size_t>> tee::read(std::size_t who, std::span<std::byte> out) {
    auto& st = states_[who];
    if (!st.started) {
        st.started = true;
        wake_.cancel();
    }
    for (;;) {
        if (failure_) co_return *failure_;
        if (st.next == seq_ && st.offset < length_) {
            auto n = std::min(out.size(), length_ - st.offset);
            std::copy_n(chunk_.data() + st.offset, n, out.data());
            st.offset += n;
            if (st.offset == length_) {
                ++st.next;
                st.offset = 0;
                if (--pending_ == 0) wake_.cancel();
            }
            co_return n;
        }
        if (eof_) co_return std::size_t{0};
        if (pending_ == 0 && !producing_) {
            producing_ = true;
            auto n = co_await source_.read(std::span<std::byte>(chunk_));
            producing_ = false;
            if (!n)
                failure_ = n.error();
            else if (*n == 0)
                eof_ = true;
            else {
                ++seq_;
                length_ = *n;
                pending_ = active_;
            }
            wake_.cancel();
            continue;
        }
        co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

} // namespace libregistry::detail
