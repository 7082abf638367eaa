// Fuzzes the image layout's own files: the first byte picks index.json or oci-layout, the rest is the file.
// What parses as an index is written back and must parse again to the same entries.
#include "libregistry/storage/layout_format.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] % 2 == 1) {
        (void)libregistry::parse_oci_layout(text, "oci-layout");
        return 0;
    }
    (void)libregistry::is_valid_ref_name(text);
    auto parsed = libregistry::parse_layout_index(text, "index.json");
    if (!parsed) return 0;
    auto again = libregistry::parse_layout_index(libregistry::layout_index_file(*parsed), "index.json");
    if (!again || again->size() != parsed->size()) std::abort();
    for (std::size_t i = 0; i < parsed->size(); ++i)
        if ((*again)[i].digest != (*parsed)[i].digest || (*again)[i].annotations != (*parsed)[i].annotations)
            std::abort();
    return 0;
}
