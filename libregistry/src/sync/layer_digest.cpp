#include "libregistry/sync/layer_digest.hpp"

#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

#include <array>
#include <string>

namespace libregistry {

std::string_view to_string(layer_compression c) {
    switch (c) {
    case layer_compression::none:
        return "uncompressed";
    case layer_compression::gzip:
        return "gzip";
    case layer_compression::zstd:
        return "zstd";
    }
    return "unknown";
}

std::optional<layer_compression> layer_compression_of(std::string_view media_type) noexcept {
    auto type = media_type.substr(0, media_type.find(';'));
    while (!type.empty() && type.back() == ' ')
        type.remove_suffix(1);
    auto ends_with = [&](std::string_view suffix) { return type.ends_with(suffix); };
    // OCI: application/vnd.oci.image.layer[.nondistributable].v1.tar[+gzip|+zstd];
    // Docker: application/vnd.docker.image.rootfs[.foreign].diff.tar.gzip.
    bool layer = type.starts_with("application/vnd.oci.image.layer.") ||
                 type.starts_with("application/vnd.docker.image.rootfs.");
    if (!layer) return std::nullopt;
    if (ends_with(".tar+gzip") || ends_with(".tar.gzip")) return layer_compression::gzip;
    if (ends_with(".tar+zstd")) return layer_compression::zstd;
    if (ends_with(".tar")) return layer_compression::none;
    return std::nullopt;
}

namespace {
constexpr std::size_t out_chunk = 64 * 1024;
} // namespace

struct layer_digester::impl {
    layer_compression compression;
    digester stored;
    digester plain;
    std::int64_t stored_size = 0;
    std::int64_t plain_size = 0;
    std::optional<error> failed;
    std::array<unsigned char, out_chunk> out{};

    // gzip: one z_stream over every member; `member_done` after a member's trailer, until more input comes.
    z_stream z{};
    bool z_open = false;
    bool member_done = false;
    bool any_member = false;

    ZSTD_DStream* zs = nullptr;
    std::size_t zstd_pending = 0; ///< ZSTD_decompressStream's hint: 0 when the last frame is complete

    explicit impl(layer_compression c) : compression(c) {
        if (c == layer_compression::gzip) {
            // 16 + MAX_WBITS: gzip wrapper only, so a zlib or raw deflate stream is refused as not gzip.
            if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw std::bad_alloc();
            z_open = true;
        } else if (c == layer_compression::zstd) {
            zs = ZSTD_createDStream();
            if (!zs) throw std::bad_alloc();
            ZSTD_initDStream(zs);
        }
    }
    ~impl() {
        if (z_open) inflateEnd(&z);
        if (zs) ZSTD_freeDStream(zs);
    }
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;

    error corrupt(std::string_view what) const {
        return make_error(errc::bad_response, fmt::format("{} data is corrupt at or before byte {}: {}",
                                                          to_string(compression), stored_size, what));
    }

    void emit(std::size_t n) {
        plain.update(out.data(), n);
        plain_size += static_cast<std::int64_t>(n);
    }

    result<void> gunzip(const unsigned char* data, std::size_t size) {
        z.next_in = const_cast<unsigned char*>(data);
        z.avail_in = static_cast<uInt>(size);
        while (z.avail_in > 0) {
            if (member_done) {
                // Another member follows the trailer (RFC 1952 section 2.2).
                inflateReset(&z);
                member_done = false;
            }
            z.next_out = out.data();
            z.avail_out = static_cast<uInt>(out.size());
            int rc = inflate(&z, Z_NO_FLUSH);
            emit(out.size() - z.avail_out);
            if (rc == Z_STREAM_END) {
                member_done = true;
                any_member = true;
                continue;
            }
            if (rc == Z_OK || rc == Z_BUF_ERROR) continue;
            return corrupt(z.msg ? z.msg : fmt::format("zlib error {}", rc));
        }
        return {};
    }

    result<void> unzstd(const unsigned char* data, std::size_t size) {
        ZSTD_inBuffer in{data, size, 0};
        // Until the input is used up and the decoder holds no more output (a full buffer may mean there is).
        bool full = false;
        while (in.pos < in.size || full) {
            ZSTD_outBuffer o{out.data(), out.size(), 0};
            auto before = in.pos;
            auto rc = ZSTD_decompressStream(zs, &o, &in);
            if (ZSTD_isError(rc)) return corrupt(ZSTD_getErrorName(rc));
            emit(o.pos);
            // A call that did nothing (after a frame's end) answers with the next frame's header size: not a
            // frame left open.
            if (o.pos > 0 || in.pos > before) zstd_pending = rc;
            full = o.pos == o.size;
        }
        return {};
    }

    result<void> update(std::span<const std::byte> bytes) {
        const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
        stored.update(data, bytes.size());
        if (failed) {
            stored_size += static_cast<std::int64_t>(bytes.size());
            return *failed;
        }
        result<void> r;
        switch (compression) {
        case layer_compression::none:
            plain.update(data, bytes.size());
            plain_size += static_cast<std::int64_t>(bytes.size());
            break;
        case layer_compression::gzip:
            r = gunzip(data, bytes.size());
            break;
        case layer_compression::zstd:
            r = unzstd(data, bytes.size());
            break;
        }
        stored_size += static_cast<std::int64_t>(bytes.size());
        if (!r) failed = r.error();
        return r;
    }

    layer_digests finish() {
        layer_digests out;
        if (!failed && compression == layer_compression::gzip && !(any_member && member_done))
            failed =
                make_error(errc::bad_response,
                           fmt::format("gzip data ends inside a member after {} bytes: the blob is truncated",
                                       stored_size));
        if (!failed && compression == layer_compression::zstd && (stored_size == 0 || zstd_pending != 0))
            failed =
                make_error(errc::bad_response,
                           fmt::format("zstd data ends inside a frame after {} bytes: the blob is truncated",
                                       stored_size));
        out.stored = stored.finish();
        out.stored_size = stored_size;
        if (failed)
            out.failure = failed;
        else
            out.uncompressed = plain.finish();
        out.uncompressed_size = plain_size;
        return out;
    }
};

layer_digester::layer_digester(layer_compression compression) : impl_(std::make_unique<impl>(compression)) {}
layer_digester::layer_digester(layer_digester&&) noexcept = default;
layer_digester& layer_digester::operator=(layer_digester&&) noexcept = default;
layer_digester::~layer_digester() = default;

result<void> layer_digester::update(std::span<const std::byte> bytes) {
    return impl_->update(bytes);
}
layer_digests layer_digester::finish() {
    return impl_->finish();
}

} // namespace libregistry
