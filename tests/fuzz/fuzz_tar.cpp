// Fuzzes the archive reader: the input is an archive (plain, gzip or zstd, detected by its magic as for a
// file), read entry by entry with every entry's data drained, as extract_tar does. Also feeds the input to
// the pax record parser and the entry-name check on their own.
#include "libregistry/storage/tar.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)libregistry::parse_pax_records(text, "fuzz.tar");
    (void)libregistry::safe_entry_name(text, "fuzz.tar");

    const auto compression = libregistry::detect_compression(std::as_bytes(std::span(data, size)));
    auto source =
        libregistry::decompressing_source(libregistry::memory_source(text), compression, "fuzz.tar");
    libregistry::tar_reader reader(*source, "fuzz.tar");
    std::array<std::byte, 4096> buffer{};
    // Bounded: a decompression bomb in the corpus must not make a replay slow.
    std::size_t total = 0;
    for (int entries = 0; entries < 10000; ++entries) {
        auto entry = reader.next();
        if (!entry || !*entry) break;
        for (;;) {
            auto n = reader.read(buffer);
            if (!n || *n == 0) break;
            total += *n;
            if (total > (64u << 20)) return 0;
        }
    }
    return 0;
}
