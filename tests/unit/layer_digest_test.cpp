#include "tar_fixtures.hpp"

#include <libregistry/sync/layer_digest.hpp>

#include <doctest/doctest.h>
#include <zlib.h>
#include <zstd.h>

#include <random>
#include <string>

using namespace libregistry;
using libregistry::testing::gzip_bytes;

namespace {

// A tar-sized stand-in: compressible, but not trivially (so compressed frames span many chunks).
std::string content(std::size_t size, unsigned seed = 7) {
    std::mt19937 rng(seed);
    std::string out(size, '\0');
    for (auto& c : out)
        c = static_cast<char>('a' + rng() % 6);
    return out;
}

std::string zstd(const std::string& in) {
    std::string out(ZSTD_compressBound(in.size()), '\0');
    auto n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
    REQUIRE(!ZSTD_isError(n));
    out.resize(n);
    return out;
}

// Feeds `bytes` in chunks of `chunk`, as a blob reader would.
layer_digests feed(layer_compression c, const std::string& bytes, std::size_t chunk = 1000) {
    layer_digester d(c);
    for (std::size_t i = 0; i < bytes.size(); i += chunk)
        (void)d.update(std::string_view(bytes).substr(i, chunk));
    return d.finish();
}

} // namespace

TEST_CASE("layer media types name their compression") {
    CHECK(layer_compression_of("application/vnd.oci.image.layer.v1.tar+gzip") == layer_compression::gzip);
    CHECK(layer_compression_of("application/vnd.docker.image.rootfs.diff.tar.gzip") ==
          layer_compression::gzip);
    CHECK(layer_compression_of("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip") ==
          layer_compression::gzip);
    CHECK(layer_compression_of("application/vnd.oci.image.layer.v1.tar+zstd") == layer_compression::zstd);
    CHECK(layer_compression_of("application/vnd.oci.image.layer.nondistributable.v1.tar+zstd") ==
          layer_compression::zstd);
    CHECK(layer_compression_of("application/vnd.oci.image.layer.v1.tar") == layer_compression::none);
    CHECK_FALSE(layer_compression_of("application/vnd.oci.image.config.v1+json"));
    CHECK_FALSE(layer_compression_of("application/vnd.example.sbom.v1+json"));
    CHECK_FALSE(layer_compression_of("application/octet-stream"));
}

TEST_CASE("stored and uncompressed digests of plain, gzip and zstd layers, whatever the chunking") {
    const auto plain = content(300000);
    const auto diff_id = digest_of(plain);
    for (std::size_t chunk : {1ul, 777ul, 65536ul, 1000000ul}) {
        CAPTURE(chunk);
        if (chunk == 1) {
            // One byte at a time through the decoders is slow for the big input; a smaller one suffices.
            const auto small = content(5000, 3);
            CHECK(feed(layer_compression::gzip, gzip_bytes(small), 1).uncompressed == digest_of(small));
            CHECK(feed(layer_compression::zstd, zstd(small), 1).uncompressed == digest_of(small));
            continue;
        }
        auto p = feed(layer_compression::none, plain, chunk);
        CHECK(p.stored == diff_id);
        CHECK(p.uncompressed == diff_id);
        CHECK(p.stored_size == static_cast<std::int64_t>(plain.size()));
        CHECK_FALSE(p.failure);

        const auto gz = gzip_bytes(plain);
        auto g = feed(layer_compression::gzip, gz, chunk);
        CHECK(g.stored == digest_of(gz));
        CHECK(g.stored_size == static_cast<std::int64_t>(gz.size()));
        CHECK(g.uncompressed == diff_id);
        CHECK(g.uncompressed_size == static_cast<std::int64_t>(plain.size()));
        CHECK_FALSE(g.failure);

        const auto zs = zstd(plain);
        auto z = feed(layer_compression::zstd, zs, chunk);
        CHECK(z.stored == digest_of(zs));
        CHECK(z.uncompressed == diff_id);
        CHECK(z.uncompressed_size == static_cast<std::int64_t>(plain.size()));
        CHECK_FALSE(z.failure);
    }
}

TEST_CASE("several gzip members and several zstd frames are one layer, as their formats allow") {
    const auto a = content(40000, 1), b = content(30000, 2);
    CHECK(feed(layer_compression::gzip, gzip_bytes(a) + gzip_bytes(b)).uncompressed == digest_of(a + b));
    CHECK(feed(layer_compression::zstd, zstd(a) + zstd(b)).uncompressed == digest_of(a + b));
}

TEST_CASE("altered content decompresses to a different digest than the original's diff_id") {
    auto altered = content(100000);
    altered[5000] = 'z';
    CHECK(feed(layer_compression::gzip, gzip_bytes(altered)).uncompressed != digest_of(content(100000)));
    CHECK(feed(layer_compression::zstd, zstd(altered)).uncompressed != digest_of(content(100000)));
}

TEST_CASE("corrupt compressed data is an error naming the compression; the stored digest is still known") {
    const auto plain = content(200000);
    auto gz = gzip_bytes(plain);
    gz[gz.size() / 2] = static_cast<char>(gz[gz.size() / 2] ^ 0x55);
    gz[gz.size() / 2 + 1] = static_cast<char>(gz[gz.size() / 2 + 1] ^ 0x55);
    auto g = feed(layer_compression::gzip, gz);
    REQUIRE(g.failure);
    CHECK(g.failure->code == errc::bad_response);
    CHECK(g.failure->message.find("gzip data is corrupt") != std::string::npos);
    CHECK_FALSE(g.uncompressed);
    CHECK(g.stored == digest_of(gz));
    CHECK(g.stored_size == static_cast<std::int64_t>(gz.size()));

    auto zs = zstd(plain);
    zs[zs.size() / 2] = static_cast<char>(zs[zs.size() / 2] ^ 0x55);
    auto z = feed(layer_compression::zstd, zs);
    REQUIRE(z.failure);
    CHECK(z.failure->message.find("zstd data is corrupt") != std::string::npos);
    CHECK(z.stored == digest_of(zs));

    // Not compressed at all, although the media type says so.
    auto n = feed(layer_compression::gzip, plain);
    REQUIRE(n.failure);
    CHECK(n.failure->message.find("gzip") != std::string::npos);
    CHECK(feed(layer_compression::zstd, plain).failure);
}

TEST_CASE("truncated compressed data fails at finish, saying so") {
    const auto plain = content(100000);
    auto gz = gzip_bytes(plain);
    auto g = feed(layer_compression::gzip, gz.substr(0, gz.size() - 10));
    REQUIRE(g.failure);
    CHECK(g.failure->message.find("truncated") != std::string::npos);
    auto zs = zstd(plain);
    auto z = feed(layer_compression::zstd, zs.substr(0, zs.size() / 2));
    REQUIRE(z.failure);
    CHECK(z.failure->message.find("truncated") != std::string::npos);
    CHECK(feed(layer_compression::gzip, "").failure);
    CHECK(feed(layer_compression::zstd, "").failure);
    CHECK_FALSE(feed(layer_compression::none, "").failure);
}
