// Fuzzes the image reference, repository and platform parsers with arbitrary text. Beyond not crashing, a
// parsed value must survive a round trip through its canonical form.
#include "libregistry/core/platform.hpp"
#include "libregistry/core/reference.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

void require(bool condition) {
    if (!condition) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    if (auto ref = libregistry::parse_reference(text)) {
        (void)ref->name();
        (void)ref->identifier();
        (void)ref->api_host();
        auto again = libregistry::parse_reference(ref->str());
        require(again && *again == *ref);
    }
    if (auto repo = libregistry::parse_repository(text)) (void)repo->str();
    (void)libregistry::is_valid_tag(text);
    (void)libregistry::normalize_registry(text);

    if (auto p = libregistry::parse_platform(text)) {
        auto again = libregistry::parse_platform(p->str());
        require(again && *again == *p);
        require(libregistry::platform_matches(*p, *p));
    }
    return 0;
}
