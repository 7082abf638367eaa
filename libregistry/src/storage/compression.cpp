// Byte streams for archives: files, memory, and gzip (zlib) and zstd in both directions.
#include "libregistry/core/printable.hpp"
#include "libregistry/storage/tar.hpp"
#include "storage/detail/files.hpp"

#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <initializer_list>
#include <new>
#include <vector>

namespace libregistry {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t chunk = 128 * 1024;

class memory_byte_source final : public byte_source {
public:
    explicit memory_byte_source(std::string_view bytes) : bytes_(bytes) {}
    result<std::size_t> read(std::span<std::byte> buffer) override {
        const auto n = std::min(buffer.size(), bytes_.size() - offset_);
        std::memcpy(buffer.data(), bytes_.data() + offset_, n);
        offset_ += n;
        return n;
    }

private:
    std::string_view bytes_;
    std::size_t offset_ = 0;
};

class file_source final : public byte_source {
public:
    file_source(detail::unique_fd fd, fs::path path) : fd_(std::move(fd)), path_(std::move(path)) {}
    result<std::size_t> read(std::span<std::byte> buffer) override {
        return detail::read_some(fd_.get(), buffer, path_);
    }

private:
    detail::unique_fd fd_;
    fs::path path_;
};

/// Hands back bytes already read (the magic) before the rest of the inner source.
class prefixed_source final : public byte_source {
public:
    prefixed_source(std::vector<std::byte> head, std::unique_ptr<byte_source> inner)
        : head_(std::move(head)), inner_(std::move(inner)) {}
    result<std::size_t> read(std::span<std::byte> buffer) override {
        if (offset_ < head_.size()) {
            const auto n = std::min(buffer.size(), head_.size() - offset_);
            std::memcpy(buffer.data(), head_.data() + offset_, n);
            offset_ += n;
            return n;
        }
        return inner_->read(buffer);
    }

private:
    std::vector<std::byte> head_;
    std::size_t offset_ = 0;
    std::unique_ptr<byte_source> inner_;
};

class inflating_source final : public byte_source {
public:
    inflating_source(std::unique_ptr<byte_source> inner, archive_compression c, std::string where)
        : inner_(std::move(inner)), compression_(c), where_(std::move(where)), in_(chunk) {
        if (c == archive_compression::gzip) {
            // 16 + MAX_WBITS: the gzip wrapper, whose CRC-32 and length catch corruption at each member's
            // end.
            if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) throw std::bad_alloc();
        } else {
            zs_ = ZSTD_createDStream();
            if (!zs_) throw std::bad_alloc();
            ZSTD_initDStream(zs_);
        }
    }
    ~inflating_source() override {
        if (compression_ == archive_compression::gzip)
            inflateEnd(&z_);
        else
            ZSTD_freeDStream(zs_);
    }
    inflating_source(const inflating_source&) = delete;
    inflating_source& operator=(const inflating_source&) = delete;

    result<std::size_t> read(std::span<std::byte> buffer) override {
        if (buffer.empty()) return std::size_t{0};
        for (;;) {
            if (in_pos_ == in_len_ && !input_ended_) {
                auto n = inner_->read(in_);
                if (!n) return n.error();
                in_len_ = *n;
                in_pos_ = 0;
                if (*n == 0) input_ended_ = true;
            }
            auto produced =
                compression_ == archive_compression::gzip ? inflate_some(buffer) : zstd_some(buffer);
            if (!produced) return produced.error();
            if (*produced > 0) return *produced;
            if (input_ended_ && in_pos_ == in_len_) {
                if (!complete_)
                    return make_error(
                        errc::invalid_archive,
                        fmt::format("{}: the {} stream is truncated (it ends inside compressed data); "
                                    "the archive was cut short, copy it again",
                                    where_, to_string(compression_)));
                return std::size_t{0};
            }
        }
    }

private:
    result<std::size_t> inflate_some(std::span<std::byte> buffer) {
        if (in_pos_ == in_len_ && complete_) return std::size_t{0};
        if (complete_) {
            // Another gzip member follows (concatenated gzip is one stream, as gunzip reads it).
            inflateReset(&z_);
            complete_ = false;
        }
        z_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
        z_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
        z_.next_out = reinterpret_cast<Bytef*>(buffer.data());
        z_.avail_out = static_cast<uInt>(std::min<std::size_t>(buffer.size(), 1u << 30));
        const int rc = inflate(&z_, Z_NO_FLUSH);
        in_pos_ = in_len_ - z_.avail_in;
        const auto out = static_cast<std::size_t>(reinterpret_cast<std::byte*>(z_.next_out) - buffer.data());
        if (rc == Z_STREAM_END) {
            complete_ = true;
        } else if (rc != Z_OK && !(rc == Z_BUF_ERROR && out == 0 && in_pos_ == in_len_)) {
            return make_error(errc::invalid_archive,
                              fmt::format("{}: corrupt gzip data ({}); the archive is damaged, copy it again",
                                          where_, printable(z_.msg ? z_.msg : "inflate failed", 200)));
        }
        return out;
    }

    result<std::size_t> zstd_some(std::span<std::byte> buffer) {
        // Without new input a finished frame stays finished (a call would ask for the next frame's header).
        if (in_pos_ == in_len_ && complete_) return std::size_t{0};
        ZSTD_inBuffer in{in_.data(), in_len_, in_pos_};
        ZSTD_outBuffer out{buffer.data(), buffer.size(), 0};
        const auto rc = ZSTD_decompressStream(zs_, &out, &in);
        in_pos_ = in.pos;
        if (ZSTD_isError(rc))
            return make_error(errc::invalid_archive,
                              fmt::format("{}: corrupt zstd data ({}); the archive is damaged, copy it again",
                                          where_, ZSTD_getErrorName(rc)));
        complete_ = rc == 0;
        return out.pos;
    }

    std::unique_ptr<byte_source> inner_;
    archive_compression compression_;
    std::string where_;
    std::vector<std::byte> in_;
    std::size_t in_pos_ = 0, in_len_ = 0;
    bool input_ended_ = false;
    bool complete_ = false; ///< the last member or frame ended
    z_stream z_{};
    ZSTD_DStream* zs_ = nullptr;
};

class fd_sink final : public byte_sink {
public:
    fd_sink(int fd, archive_compression c, fs::path where, int zstd_workers)
        : fd_(fd), compression_(c), where_(std::move(where)), out_(chunk) {
        if (c == archive_compression::gzip) {
            if (deflateInit2(&z_, gzip_level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                throw std::bad_alloc();
        } else if (c == archive_compression::zstd) {
            zs_ = ZSTD_createCStream();
            if (!zs_) throw std::bad_alloc();
            // Level 3 (zstd's default) with the content checksum, so a reader detects a corrupt frame.
            ZSTD_CCtx_setParameter(zs_, ZSTD_c_compressionLevel, zstd_level);
            ZSTD_CCtx_setParameter(zs_, ZSTD_c_checksumFlag, 1);
            // A libzstd built without threads refuses the parameter: it then compresses in this thread.
            // Jobs of 1 MiB: the default (4 windows, 8 MiB at level 3) holds about 54 MiB in buffers, 1 MiB
            // jobs about 11 MiB, for the same speed (measured with zstd -T1 -B1048576).
            if (zstd_workers > 0 &&
                !ZSTD_isError(ZSTD_CCtx_setParameter(zs_, ZSTD_c_nbWorkers, zstd_workers)))
                ZSTD_CCtx_setParameter(zs_, ZSTD_c_jobSize, 1 << 20);
        }
    }
    ~fd_sink() override {
        if (compression_ == archive_compression::gzip) deflateEnd(&z_);
        if (zs_) ZSTD_freeCStream(zs_);
    }
    fd_sink(const fd_sink&) = delete;
    fd_sink& operator=(const fd_sink&) = delete;

    result<void> write(std::span<const std::byte> bytes) override {
        switch (compression_) {
        case archive_compression::none:
            return detail::write_all(fd_, bytes, where_);
        case archive_compression::gzip:
            return deflate_all(bytes, Z_NO_FLUSH);
        case archive_compression::zstd:
            return zstd_all(bytes, false);
        }
        return {};
    }

    result<void> close() override {
        if (compression_ == archive_compression::gzip) return deflate_all({}, Z_FINISH);
        if (compression_ == archive_compression::zstd) return zstd_all({}, true);
        return {};
    }

    result<void> set_compressible(bool compressible) override {
        if (compressible == compressible_) return {};
        compressible_ = compressible;
        if (compression_ == archive_compression::gzip) {
            // deflateParams flushes what was deflated at the old level first; it needs room for that.
            for (;;) {
                z_.next_in = nullptr;
                z_.avail_in = 0;
                z_.next_out = reinterpret_cast<Bytef*>(out_.data());
                z_.avail_out = static_cast<uInt>(out_.size());
                const int rc = deflateParams(&z_, compressible ? gzip_level : 0, Z_DEFAULT_STRATEGY);
                const auto produced = out_.size() - z_.avail_out;
                if (auto w =
                        detail::write_all(fd_, std::span<const std::byte>(out_.data(), produced), where_);
                    !w)
                    return w;
                if (rc == Z_OK) return {};
                if (rc != Z_BUF_ERROR)
                    return make_error(errc::io_error,
                                      fmt::format("gzip compression of {} failed", where_.string()));
            }
        }
        if (compression_ == archive_compression::zstd) {
            // The level is a frame's parameter: end the frame, and the next one starts at the new level.
            // Concatenated frames are one zstd stream to every reader.
            if (auto r = zstd_all({}, true); !r) return r;
            ZSTD_CCtx_setParameter(zs_, ZSTD_c_compressionLevel,
                                   compressible ? zstd_level : zstd_level_compressed);
        }
        return {};
    }

private:
    result<void> deflate_all(std::span<const std::byte> bytes, int flush) {
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(bytes.data()));
        z_.avail_in = static_cast<uInt>(bytes.size());
        for (;;) {
            z_.next_out = reinterpret_cast<Bytef*>(out_.data());
            z_.avail_out = static_cast<uInt>(out_.size());
            const int rc = deflate(&z_, flush);
            if (rc == Z_STREAM_ERROR)
                return make_error(errc::io_error,
                                  fmt::format("gzip compression of {} failed", where_.string()));
            const auto produced = out_.size() - z_.avail_out;
            if (auto w = detail::write_all(fd_, std::span<const std::byte>(out_.data(), produced), where_);
                !w)
                return w;
            if (flush == Z_FINISH ? rc == Z_STREAM_END : (z_.avail_in == 0 && z_.avail_out != 0)) return {};
        }
    }

    result<void> zstd_all(std::span<const std::byte> bytes, bool end) {
        ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
        for (;;) {
            ZSTD_outBuffer out{out_.data(), out_.size(), 0};
            const auto rc = ZSTD_compressStream2(zs_, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
            if (ZSTD_isError(rc))
                return make_error(errc::io_error, fmt::format("zstd compression of {} failed: {}",
                                                              where_.string(), ZSTD_getErrorName(rc)));
            if (auto w = detail::write_all(fd_, std::span<const std::byte>(out_.data(), out.pos), where_); !w)
                return w;
            if (end ? rc == 0 : in.pos == in.size) return {};
        }
    }

    // Compressed layers are most of a bundle: zstd level 1 passes incompressible blocks through at a
    // fraction of level 3's CPU (measured: about 0.06 s against 0.15 s of CPU for 64 MiB of gzip'd random
    // bytes, the output the same size), and gzip's stored blocks (level 0) cost a copy where level 6 spends
    // seconds to gain nothing.
    static constexpr int gzip_level = Z_DEFAULT_COMPRESSION;
    static constexpr int zstd_level = 3;
    static constexpr int zstd_level_compressed = 1;

    int fd_;
    archive_compression compression_;
    fs::path where_;
    std::vector<std::byte> out_;
    z_stream z_{};
    ZSTD_CStream* zs_ = nullptr;
    bool compressible_ = true;
};

} // namespace

std::string_view to_string(archive_compression c) noexcept {
    switch (c) {
    case archive_compression::none:
        return "tar";
    case archive_compression::gzip:
        return "gzip";
    case archive_compression::zstd:
        return "zstd";
    }
    return "unknown";
}

std::optional<archive_compression> compression_for_path(std::string_view path) noexcept {
    if (path.ends_with(".tar")) return archive_compression::none;
    if (path.ends_with(".tar.gz") || path.ends_with(".tgz")) return archive_compression::gzip;
    if (path.ends_with(".tar.zst") || path.ends_with(".tzst")) return archive_compression::zstd;
    return std::nullopt;
}

result<archive_compression> compression_for_target(const std::filesystem::path& target) {
    if (auto c = compression_for_path(target.filename().string())) return *c;
    return make_error(errc::invalid_argument,
                      fmt::format("{}: an archive's name ends in .tar, .tar.gz, .tgz, .tar.zst or .tzst, "
                                  "which says how it is compressed",
                                  printable(target.string(), 1000)));
}

archive_compression detect_compression(std::span<const std::byte> head) noexcept {
    const auto at = [&](std::size_t i) { return std::to_integer<unsigned>(head[i]); };
    if (head.size() >= 2 && at(0) == 0x1f && at(1) == 0x8b) return archive_compression::gzip;
    if (head.size() >= 4 && at(0) == 0x28 && at(1) == 0xb5 && at(2) == 0x2f && at(3) == 0xfd)
        return archive_compression::zstd;
    return archive_compression::none;
}

std::unique_ptr<byte_source> memory_source(std::string_view bytes) {
    return std::make_unique<memory_byte_source>(bytes);
}

std::unique_ptr<byte_source> decompressing_source(std::unique_ptr<byte_source> inner, archive_compression c,
                                                  std::string where) {
    if (c == archive_compression::none) return inner;
    return std::make_unique<inflating_source>(std::move(inner), c, std::move(where));
}

result<std::unique_ptr<byte_source>> open_archive_file(const fs::path& path) {
    auto fd = detail::open_regular(path);
    if (!fd) return fd.error();
    std::vector<std::byte> head(4);
    auto n = detail::read_some(fd->get(), head, path);
    if (!n) return n.error();
    head.resize(*n);
    const auto c = detect_compression(head);
    auto raw = std::make_unique<prefixed_source>(std::move(head),
                                                 std::make_unique<file_source>(std::move(*fd), path));
    return decompressing_source(std::move(raw), c, path.string());
}

std::unique_ptr<byte_sink> compressing_sink(int fd, archive_compression c, fs::path where, int zstd_workers) {
    return std::make_unique<fd_sink>(fd, c, std::move(where), zstd_workers);
}

bool looks_compressed(std::span<const std::byte> head) noexcept {
    const auto starts = [&](std::initializer_list<unsigned> magic) {
        if (head.size() < magic.size()) return false;
        std::size_t i = 0;
        for (const auto b : magic)
            if (std::to_integer<unsigned>(head[i++]) != b) return false;
        return true;
    };
    return detect_compression(head) != archive_compression::none ||
           starts({0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00}) || // xz
           starts({0x42, 0x5a, 0x68});                     // bzip2
}

} // namespace libregistry
