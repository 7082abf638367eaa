// Fuzzes the WWW-Authenticate parser (RFC 9110 section 11.6.1 challenges) with arbitrary header values.
#include "libregistry/core/challenge.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view header(reinterpret_cast<const char*>(data), size);
    if (auto challenges = libregistry::parse_www_authenticate(header)) {
        for (const auto& c : *challenges) {
            (void)c.param("realm");
            (void)libregistry::is_insufficient_scope(c);
        }
    }
    return 0;
}
