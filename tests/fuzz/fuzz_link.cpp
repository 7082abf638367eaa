// Fuzzes the pagination Link header parser (RFC 8288) and the URL / header redaction used in messages.
#include "libregistry/core/link_header.hpp"
#include "libregistry/core/redact.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto next = libregistry::next_link(text)) (void)libregistry::redact_url(*next);
    (void)libregistry::redact_url(text);
    (void)libregistry::redact_header("Authorization", text);
    (void)libregistry::redact_header("Location", text);
    return 0;
}
