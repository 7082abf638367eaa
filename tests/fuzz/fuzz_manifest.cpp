// Fuzzes parse_manifest: the first byte picks the Content-Type the registry claimed, the rest is the body.
// Indexes that parse are then filtered by a few platform lists, directly and with each nested index they
// list standing in for itself (as filtered, and as matching nothing); the body is also read as an image
// config and a schema 1 manifest's platform.
#include "libregistry/core/manifest.hpp"
#include "libregistry/core/media_type.hpp"
#include "libregistry/core/platform.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace mt = libregistry::media_types;

constexpr std::array<std::string_view, 8> content_types = {
    std::string_view{},
    mt::oci_manifest,
    mt::oci_index,
    mt::docker_manifest,
    mt::docker_manifest_list,
    mt::docker_schema1_signed,
    "application/json",
    "application/vnd.oci.image.index.v1+json; charset=utf-8",
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const auto content_type = content_types[data[0] % content_types.size()];
    std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);

    (void)libregistry::platform_of_config(body);
    auto parsed = libregistry::parse_manifest(std::move(body), content_type);
    if (!parsed) return 0;
    (void)libregistry::schema1_platform(*parsed);
    (void)parsed->blobs();
    (void)parsed->as_descriptor();
    if (parsed->kind == libregistry::manifest_kind::index) {
        const std::vector<std::vector<libregistry::platform>> filters = {
            {},
            {{"linux", "amd64", "", ""}},
            {{"linux", "arm64", "v8", ""}, {"linux", "arm", "v7", ""}},
            {{"windows", "amd64", "", "10.0.17763.1234"}},
        };
        for (const auto& platforms : filters) {
            (void)libregistry::filter_index(*parsed, platforms);
            // Each nested index as if it were this index filtered, or as if nothing in it matched.
            std::map<libregistry::digest, libregistry::platform_selection> kept, dropped;
            for (const auto& entry : libregistry::nested_indexes(*parsed, platforms)) {
                kept[entry.digest] = libregistry::platform_selection{*parsed, {"linux/amd64"}};
                dropped[entry.digest] = libregistry::platform_selection{std::nullopt, {}};
            }
            (void)libregistry::select_platforms(*parsed, platforms, kept);
            (void)libregistry::select_platforms(*parsed, platforms, dropped);
        }
        // Also filter by each entry's own platform, which must then be kept.
        for (const auto& entry : parsed->manifests)
            if (entry.platform) (void)libregistry::filter_index(*parsed, {*entry.platform});
    }
    return 0;
}
