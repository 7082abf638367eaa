// Fuzzes a docker archive's manifest.json. What parses is written back and must parse again to the same
// images, and the `repositories` file of it must be written without failing.
#include "libregistry/storage/docker_archive_format.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto parsed = libregistry::parse_docker_archive_index(text, "manifest.json");
    if (!parsed) return 0;
    auto again = libregistry::parse_docker_archive_index(libregistry::docker_archive_index_file(*parsed),
                                                         "manifest.json");
    if (!again || again->size() != parsed->size()) std::abort();
    for (std::size_t i = 0; i < parsed->size(); ++i) {
        const auto& a = (*parsed)[i];
        const auto& b = (*again)[i];
        if (a.config != b.config || a.layers != b.layers || a.repo_tags != b.repo_tags ||
            a.manifest != b.manifest)
            std::abort();
    }
    (void)libregistry::docker_archive_repositories_file(*parsed);
    return 0;
}
