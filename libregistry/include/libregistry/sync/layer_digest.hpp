#pragma once
// Checks a layer blob as it streams past: the digest of the stored bytes, and for a compressed layer the
// digest of what it decompresses to, which the image config lists as `rootfs.diff_ids[i]` (image-spec
// "Image Configuration", "Layer DiffID"). Pure: fed bytes, no I/O, memory flat in the layer's size.
#include "libregistry/core/digest.hpp"
#include "libregistry/core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

namespace libregistry {

enum class layer_compression { none, gzip, zstd };
std::string_view to_string(layer_compression c);

/// The compression a layer media type declares: `...tar+gzip` (and Docker's `...rootfs.diff.tar.gzip`,
/// foreign layers included), `...tar+zstd`, plain `...tar`; nullopt for anything else (a config, an
/// artifact blob), whose uncompressed digest means nothing.
std::optional<layer_compression> layer_compression_of(std::string_view media_type) noexcept;

struct layer_digests {
    digest stored;                ///< sha256 of the bytes as stored
    std::int64_t stored_size = 0; ///< their count
    /// sha256 of the decompressed bytes (of the stored ones when uncompressed); nullopt when decompression
    /// failed.
    std::optional<digest> uncompressed;
    std::int64_t uncompressed_size = 0;
    /// Why decompression failed: errc::bad_response, naming the compression and the byte offset for corrupt
    /// data, or saying the data ends inside a gzip member or a zstd frame (a truncated blob).
    std::optional<error> failure;
};

/// Incremental: `update` with each chunk in order, then `finish` once. The stored bytes are hashed whatever
/// happens; once the compressed data turns out corrupt, decompression stops and `update` returns the error
/// (and returns it again on later calls, which still hash). gzip input may hold several members and zstd
/// input several frames, as their formats allow.
class layer_digester {
public:
    explicit layer_digester(layer_compression compression);
    layer_digester(layer_digester&&) noexcept;
    layer_digester& operator=(layer_digester&&) noexcept;
    ~layer_digester();

    result<void> update(std::span<const std::byte> bytes);
    result<void> update(std::string_view bytes) {
        return update(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())));
    }
    layer_digests finish();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace libregistry
