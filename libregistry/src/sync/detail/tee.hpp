#pragma once
// One download feeding several uploads. Chunks are read from the source one at a time and handed to every
// consumer; the next chunk is read once all of them have taken the current one, so memory stays at one chunk
// and the slowest upload sets the pace. A consumer whose upload ends early is detached and no longer waited
// for.
#include "libregistry/client/registry.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace libregistry::detail {

class tee {
public:
    tee(blob_reader& source, std::size_t consumers, std::size_t chunk_size, boost::asio::any_io_executor ex);

    blob_reader& consumer(std::size_t i) { return *readers_[i]; }

    /// Consumer `i` reads no more; the others stop waiting for it.
    void detach(std::size_t i);

    /// Returns once consumer `i` has asked for its first bytes, or is detached.
    boost::asio::awaitable<void> started(std::size_t i);

private:
    struct state {
        std::uint64_t next = 1; ///< the chunk this consumer needs
        std::size_t offset = 0;
        bool started = false;
        bool detached = false;
    };

    class reader final : public blob_reader {
    public:
        reader(tee& t, std::size_t index) : tee_(t), index_(index) {}
        boost::asio::awaitable<result<std::size_t>> read(std::span<std::byte> buffer) override;

    private:
        tee& tee_;
        std::size_t index_;
    };

    boost::asio::awaitable<result<std::size_t>> read(std::size_t who, std::span<std::byte> out);

    blob_reader& source_;
    std::vector<std::byte> chunk_;
    // Woken (cancelled) whenever a chunk is read or taken, or a consumer detaches; never expires.
    boost::asio::steady_timer wake_;
    std::vector<state> states_;
    std::vector<std::unique_ptr<reader>> readers_;
    std::size_t active_;
    std::size_t pending_ = 0;
    std::uint64_t seq_ = 0;
    std::size_t length_ = 0;
    bool producing_ = false;
    bool eof_ = false;
    std::optional<error> failure_;
};

} // namespace libregistry::detail
