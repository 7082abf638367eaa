#include "tar_fixtures.hpp"
#include "temp_dir.hpp"

#include <libregistry/storage/tar.hpp>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <zstd.h>

using namespace libregistry;
using namespace libregistry::testing;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

TEST_CASE("compression by extension when writing, by magic when reading") {
    CHECK(compression_for_path("a.tar") == archive_compression::none);
    CHECK(compression_for_path("a.tar.gz") == archive_compression::gzip);
    CHECK(compression_for_path("a.tgz") == archive_compression::gzip);
    CHECK(compression_for_path("a.tar.zst") == archive_compression::zstd);
    CHECK(compression_for_path("a.tzst") == archive_compression::zstd);
    CHECK_FALSE(compression_for_path("a.zip").has_value());
    CHECK_FALSE(compression_for_path("a.gz").has_value());
    const auto gz = gzip_bytes("x"), zs = zstd_bytes("x");
    CHECK(detect_compression(std::as_bytes(std::span(gz.data(), gz.size()))) == archive_compression::gzip);
    CHECK(detect_compression(std::as_bytes(std::span(zs.data(), zs.size()))) == archive_compression::zstd);
    CHECK(detect_compression({}) == archive_compression::none);
}

TEST_CASE("write_tar_file and the reader round-trip files, directories and long names in every compression") {
    temp_dir tmp;
    const auto small = tmp.write("small", "hello");
    const auto empty = tmp.write("empty", "");
    const std::string big_text(300000, 'b');
    const auto big = tmp.write("big", big_text);
    const std::string long_name = "blobs/sha512/" + std::string(128, 'a');
    for (const std::string name : {"out.tar", "out.tar.gz", "out.tgz", "out.tar.zst"}) {
        CAPTURE(name);
        const auto target = tmp.path() / name;
        REQUIRE(
            write_tar_file(target, {{"oci-layout", small}, {"empty", empty}, {long_name, big}}).has_value());
        const auto bytes = slurp(target);
        const auto read = read_tar(bytes);
        if (!read) FAIL_CHECK(read.error().message);
        REQUIRE(read.has_value());
        CHECK(*read == "oci-layout=hello;empty=;" + long_name + "=" + big_text + ";");
        // Readable by GNU tar too (when it is installed), long name included.
        if (fs::exists("/usr/bin/tar") && !name.ends_with(".zst")) {
            const auto list = tmp.path() / (name + ".list");
            const auto command = fmt::format("tar -tf '{}' > '{}' 2>&1", target.string(), list.string());
            CHECK(std::system(command.c_str()) == 0);
            CHECK(slurp(list) == "oci-layout\nempty\n" + long_name + "\n");
        }
    }
    const auto refused = write_tar_file(tmp.path() / "out.zip", {});
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == errc::invalid_argument);
}

TEST_CASE("safe_entry_name drops ./ and refuses names that could leave the directory") {
    CHECK(safe_entry_name("./blobs/sha256/ab", "a.tar").value() == "blobs/sha256/ab");
    CHECK(safe_entry_name("blobs/", "a.tar").value() == "blobs");
    CHECK(safe_entry_name("a//b/./c", "a.tar").value() == "a/b/c");
    for (const std::string bad : {"../x", "a/../../x", "/etc/passwd", "", "./", "a/..", "a\\b", "a\nb"}) {
        CAPTURE(bad);
        const auto r = safe_entry_name(bad, "bundle.tar");
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == errc::invalid_archive);
        CHECK(r.error().message.starts_with("bundle.tar: "));
    }
}

TEST_CASE("unsafe and broken tar streams are refused, naming the archive and the entry") {
    const auto good = tar_entry_bytes("oci-layout", '0', "{}");
    struct row {
        std::string name;
        std::string bytes;
        std::string expected;
    };
    auto truncated_gzip =
        gzip_bytes(good + tar_entry_bytes("index.json", '0', std::string(5000, 'i')) + tar_end());
    truncated_gzip.resize(truncated_gzip.size() - 20);
    auto corrupt_gzip =
        gzip_bytes(good + tar_entry_bytes("index.json", '0', std::string(5000, 'i')) + tar_end());
    corrupt_gzip[corrupt_gzip.size() - 6] ^= 0x55; // the CRC-32 / length trailer
    auto truncated_zstd = zstd_bytes(good + tar_end());
    truncated_zstd.resize(truncated_zstd.size() - 3);
    auto corrupt_zstd = zstd_bytes(good + tar_entry_bytes("x", '0', "zzzz") + tar_end());
    corrupt_zstd[corrupt_zstd.size() / 2] ^= 0x7f;
    auto bad_checksum = tar_entry_bytes("index.json", '0', "{}");
    bad_checksum[10] = 'X';
    const std::vector<row> rows{
        {"dot dot", tar_entry_bytes("../evil", '0', "x") + tar_end(),
         "entry \"../evil\": the name contains \"..\""},
        {"nested dot dot", tar_entry_bytes("blobs/../../evil", '0', "x") + tar_end(),
         "entry \"blobs/../../evil\""},
        {"absolute", tar_entry_bytes("/etc/passwd", '0', "x") + tar_end(),
         "entry \"/etc/passwd\": an absolute path"},
        {"symlink", tar_entry_bytes("index.json", '2', "", "/etc/passwd") + tar_end(),
         "entry \"index.json\": a symbolic link (to \"/etc/passwd\")"},
        {"hard link", tar_entry_bytes("index.json", '1', "", "oci-layout") + tar_end(),
         "entry \"index.json\": a hard link"},
        {"char device", tar_entry_bytes("dev", '3', "") + tar_end(), "entry \"dev\": a device or FIFO"},
        {"fifo", tar_entry_bytes("pipe", '6', "") + tar_end(), "entry \"pipe\": a device or FIFO"},
        {"duplicate", good + tar_entry_bytes("./oci-layout", '0', "{}") + tar_end(),
         "entry \"./oci-layout\": a second entry of this name"},
        {"pax path escapes",
         tar_entry_bytes("pax", 'x', "19 path=../../evil\n") + tar_entry_bytes("ok", '0', "x") + tar_end(),
         "entry \"../../evil\""},
        {"truncated data", good + tar_entry_bytes("index.json", '0', std::string(600, 'i')).substr(0, 900),
         "entry \"index.json\": the archive ends inside this entry's data (truncated)"},
        {"truncated header", good + std::string(100, 'x'), "the archive ends inside a header (truncated)"},
        {"no end blocks", good, "ends without its end-of-archive blocks"},
        {"bad checksum", bad_checksum + tar_end(), "checksum is wrong"},
        {"not a tar", std::string(2048, 'A'), "checksum is wrong"},
        {"truncated gzip", truncated_gzip, "the gzip stream is truncated"},
        {"corrupt gzip", corrupt_gzip, "corrupt gzip data"},
        {"truncated zstd", truncated_zstd, "the zstd stream is truncated"},
        {"corrupt zstd", corrupt_zstd, "zstd"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        const auto read = read_tar(r.bytes);
        REQUIRE_FALSE(read.has_value());
        CHECK(read.error().code == errc::invalid_archive);
        CAPTURE(read.error().message);
        CHECK(read.error().message.starts_with("test.tar: "));
        CHECK(read.error().message.find(r.expected) != std::string::npos);
    }
    // Directories, GNU long names and global pax headers are fine.
    const auto ok = read_tar(
        tar_entry_bytes("blobs/", '5', "") + tar_entry_bytes("././@LongLink", 'L', "blobs/long") +
        tar_entry_bytes("blobs/trunc", '0', "data") + tar_entry_bytes("g", 'g', "9 a=bcd\n") + tar_end());
    REQUIRE(ok.has_value());
    CHECK(*ok == "blobs/=;blobs/long=data;");
}

TEST_CASE("extract_tar writes regular files only and stops at its byte bound") {
    temp_dir tmp;
    const auto bytes = tar_entry_bytes("blobs/", '5', "") + tar_entry_bytes("blobs/sha256/aa", '0', "12345") +
                       tar_entry_bytes("index.json", '0', "{}") + tar_end();
    {
        auto source = memory_source(bytes);
        const auto into = tmp.path() / "ok";
        fs::create_directories(into);
        const auto files = extract_tar(*source, "a.tar", into, 7);
        REQUIRE(files.has_value());
        CHECK(*files == std::vector<std::string>{"blobs/sha256/aa", "index.json"});
        CHECK(slurp(into / "blobs/sha256/aa") == "12345");
    }
    {
        auto source = memory_source(bytes);
        const auto into = tmp.path() / "bounded";
        fs::create_directories(into);
        const auto files = extract_tar(*source, "a.tar", into, 6);
        REQUIRE_FALSE(files.has_value());
        CHECK(files.error().message.find("entry \"index.json\": the archive holds more than the 6 bytes") !=
              std::string::npos);
    }
}

namespace {

/// Compresses `parts` through compressing_sink, announcing each part's compressibility first.
std::string compress_parts(const temp_dir& tmp, archive_compression c, int zstd_workers,
                           const std::vector<std::pair<std::string, bool>>& parts) {
    const auto path = tmp.path() / "sink.out";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    {
        auto sink = compressing_sink(fd, c, path, zstd_workers);
        for (const auto& [bytes, compressible] : parts) {
            REQUIRE(sink->set_compressible(compressible).has_value());
            REQUIRE(sink->write(std::as_bytes(std::span(bytes.data(), bytes.size()))).has_value());
        }
        REQUIRE(sink->close().has_value());
    }
    ::close(fd);
    return slurp(path);
}

std::string decompress(const std::string& bytes) {
    auto source = decompressing_source(
        memory_source(bytes), detect_compression(std::as_bytes(std::span(bytes.data(), bytes.size()))), "t");
    std::string out;
    std::array<std::byte, 65536> buffer{};
    for (;;) {
        auto n = source->read(buffer);
        REQUIRE(n.has_value());
        if (*n == 0) return out;
        out.append(reinterpret_cast<const char*>(buffer.data()), *n);
    }
}

/// Deterministic bytes that do not compress.
std::string noise(std::size_t n) {
    std::string out(n, '\0');
    std::uint64_t x = 0x9e3779b97f4a7c15u;
    for (auto& c : out) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = static_cast<char>(x >> 56);
    }
    return out;
}

} // namespace

TEST_CASE("looks_compressed knows gzip, zstd, xz and bzip2 by their magic") {
    const auto bytes = [](std::string s) { return s; };
    const auto check = [](const std::string& s) {
        return looks_compressed(std::as_bytes(std::span(s.data(), s.size())));
    };
    CHECK(check(gzip_bytes("x")));
    CHECK(check(zstd_bytes("x")));
    CHECK(check(bytes("\xfd"
                      "7zXZ" +
                      std::string(1, '\0') + "rest")));
    CHECK(check(bytes("BZh91AY")));
    CHECK_FALSE(check(bytes("{\"schemaVersion\":2}")));
    CHECK_FALSE(check(bytes("\x1f")));
    CHECK_FALSE(check(bytes("")));
}

TEST_CASE("a sink told that bytes are compressed already passes them at its cheapest level, and reads back") {
    temp_dir tmp;
    const std::string text = [] {
        std::string s;
        for (int i = 0; i < 20000; ++i)
            s += fmt::format("{{\"digest\":\"sha256:{:064}\",\"size\":{}}}\n", i, i);
        return s;
    }();
    const auto layer = gzip_bytes(noise(3 << 20));
    const std::vector<std::pair<std::string, bool>> parts{{text, true}, {layer, false}, {text, true}};
    const auto plain = text + layer + text;
    for (const auto c : {archive_compression::gzip, archive_compression::zstd})
        for (const int workers : {0, 1}) {
            CAPTURE(to_string(c));
            CAPTURE(workers);
            CHECK(decompress(compress_parts(tmp, c, workers, parts)) == plain);
        }

    // zstd: each change of level ends a frame, and the compressed part's frame is level 1's (a 512 KiB
    // window where level 3 has 2 MiB).
    const auto zst = compress_parts(tmp, archive_compression::zstd, 0, parts);
    std::vector<unsigned long long> windows;
    for (std::size_t at = 0; at < zst.size();) {
        // RFC 8878 3.1.1.1: magic, frame header descriptor, then (no single segment: the size was not known
        // in advance) the window descriptor: 2^(10 + exponent) plus mantissa eighths of it.
        REQUIRE(zst.size() - at > 6);
        const auto descriptor = static_cast<unsigned char>(zst[at + 4]);
        REQUIRE((descriptor & 0x20) == 0);
        const auto wd = static_cast<unsigned char>(zst[at + 5]);
        const auto base = 1ull << (10 + (wd >> 3));
        windows.push_back(base + base / 8 * (wd & 7));
        const auto n = ZSTD_findFrameCompressedSize(zst.data() + at, zst.size() - at);
        REQUIRE_FALSE(ZSTD_isError(n));
        at += n;
    }
    REQUIRE(windows.size() == 3);
    CHECK(windows[1] < windows[0]);
    CHECK(windows[2] == windows[0]);

    // gzip: what is announced as compressed goes into stored blocks (level 0), so even text is not shrunk,
    // while the same text announced as compressible is.
    const auto stored = compress_parts(tmp, archive_compression::gzip, 0, {{text, false}});
    const auto deflated = compress_parts(tmp, archive_compression::gzip, 0, {{text, true}});
    CHECK(stored.size() >= text.size());
    CHECK(deflated.size() < text.size() / 4);
    CHECK(decompress(stored) == text);
}
