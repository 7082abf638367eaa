#include "sync/detail/small_blob.hpp"

#include <array>
#include <cstddef>

namespace libregistry::detail {

boost::asio::awaitable<result<std::string>> read_small_blob(registry& source, std::string repository,
                                                            descriptor d) {
    auto reader = co_await source.get_blob(repository, d);
    if (!reader) co_return reader.error();
    std::string bytes;
    std::array<std::byte, 16384> buffer{};
    for (;;) {
        auto n = co_await (*reader)->read(buffer);
        if (!n) co_return n.error();
        if (*n == 0) break;
        bytes.append(reinterpret_cast<const char*>(buffer.data()), *n);
        if (bytes.size() > static_cast<std::size_t>(d.size)) break;
    }
    if (bytes.size() != static_cast<std::size_t>(d.size) || digest_of(bytes) != d.digest)
        co_return make_error(errc::digest_mismatch, "does not match its digest and size");
    co_return bytes;
}

} // namespace libregistry::detail
