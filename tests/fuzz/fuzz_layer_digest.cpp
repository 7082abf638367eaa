// Fuzzes the streaming layer check (gzip, zstd, plain): whatever the bytes and however they are split, it
// returns digests or a decompression error, never crashes or loops. The first byte picks the compression and
// the chunk size.
#include "libregistry/sync/layer_digest.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const auto pick = data[0];
    auto compression = pick % 3 == 0   ? libregistry::layer_compression::gzip
                       : pick % 3 == 1 ? libregistry::layer_compression::zstd
                                       : libregistry::layer_compression::none;
    const std::size_t chunk = 1 + pick / 3;
    libregistry::layer_digester d(compression);
    auto rest = std::as_bytes(std::span<const std::uint8_t>(data + 1, size - 1));
    for (std::size_t i = 0; i < rest.size(); i += chunk)
        (void)d.update(rest.subspan(i, std::min(chunk, rest.size() - i)));
    auto out = d.finish();
    if (out.stored_size != static_cast<std::int64_t>(rest.size())) __builtin_trap();
    if (out.failure.has_value() == out.uncompressed.has_value()) __builtin_trap();
    return 0;
}
