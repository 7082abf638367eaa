// Fuzzes the image-syncer config parsers (auth, images, combined; JSON and YAML) and the docker config.json
// parser. The first byte picks the parser, the rest is the file's text. Environment references expand to a
// fixed value. auth_file::lookup is never called: it may run credential helpers.
#include "config/sync_config.hpp"

#include <libregistry/core/credentials.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    const syncer::env_lookup env = [](std::string_view) { return std::optional<std::string>("fuzz-value"); };
    const auto format = (data[0] & 1) != 0 ? syncer::file_format::yaml : syncer::file_format::json;

    switch ((data[0] >> 1) % 4) {
    case 0:
        (void)syncer::parse_auth(text, format, "auth", env);
        break;
    case 1:
        (void)syncer::parse_images(text, format, "images", env);
        break;
    case 2:
        (void)syncer::parse_config(text, format, "config", env);
        break;
    default:
        (void)libregistry::auth_file::parse(text, "config.json");
        break;
    }
    return 0;
}
