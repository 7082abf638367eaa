#pragma once
// Hand-made tar streams for the archive readers' tests: any header, good or bad, and compressed copies.
#include <libregistry/storage/tar.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

#include <array>
#include <cstring>
#include <string>

namespace libregistry::testing {

/// One ustar header block (checksum computed) followed by `data` padded to 512 bytes.
inline std::string tar_entry_bytes(const std::string& name, char type, const std::string& data,
                                   const std::string& linkname = {}) {
    std::array<char, 512> b{};
    std::memcpy(b.data(), name.data(), std::min<std::size_t>(name.size(), 100));
    std::snprintf(b.data() + 100, 8, "%07o", 0644);
    std::snprintf(b.data() + 108, 8, "%07o", 0);
    std::snprintf(b.data() + 116, 8, "%07o", 0);
    std::snprintf(b.data() + 124, 12, "%011zo", data.size());
    std::snprintf(b.data() + 136, 12, "%011o", 0);
    b[156] = type;
    std::memcpy(b.data() + 157, linkname.data(), std::min<std::size_t>(linkname.size(), 100));
    std::memcpy(b.data() + 257, "ustar", 6);
    std::memcpy(b.data() + 263, "00", 2);
    std::memset(b.data() + 148, ' ', 8);
    unsigned sum = 0;
    for (char c : b)
        sum += static_cast<unsigned char>(c);
    std::snprintf(b.data() + 148, 8, "%06o", sum);
    std::string out(b.data(), b.size());
    out += data;
    out.append((512 - data.size() % 512) % 512, '\0');
    return out;
}

inline std::string tar_end() {
    return std::string(1024, '\0');
}

inline std::string gzip_bytes(const std::string& plain) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) ==
            Z_OK);
    std::string out(compressBound(plain.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
    z.avail_in = static_cast<uInt>(plain.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

inline std::string zstd_bytes(const std::string& plain) {
    // With the content checksum, as syncer writes it, so corruption shows at the frame's end at the latest.
    std::string out(ZSTD_compressBound(plain.size()), '\0');
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    const auto n = ZSTD_compress2(cctx, out.data(), out.size(), plain.data(), plain.size());
    ZSTD_freeCCtx(cctx);
    REQUIRE_FALSE(ZSTD_isError(n));
    out.resize(n);
    return out;
}

/// Reads every entry of `bytes` (compression detected by magic) into "name=data;" text, or the error.
inline result<std::string> read_tar(const std::string& bytes) {
    auto source = decompressing_source(
        memory_source(bytes), detect_compression(std::as_bytes(std::span(bytes.data(), bytes.size()))),
        "test.tar");
    tar_reader reader(*source, "test.tar");
    std::string out;
    for (;;) {
        auto entry = reader.next();
        if (!entry) return entry.error();
        if (!*entry) return out;
        out += (*entry)->name + ((*entry)->directory ? "/" : "") + "=";
        std::array<std::byte, 7> chunk{};
        for (;;) {
            auto n = reader.read(chunk);
            if (!n) return n.error();
            if (*n == 0) break;
            out.append(reinterpret_cast<const char*>(chunk.data()), *n);
        }
        out += ";";
    }
}

} // namespace libregistry::testing
