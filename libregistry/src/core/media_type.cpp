#include "libregistry/core/media_type.hpp"

#include <algorithm>

namespace libregistry {
namespace {

/// The type/subtype part: parameters after `;` and surrounding whitespace dropped.
std::string_view essence(std::string_view media_type) noexcept {
    media_type = media_type.substr(0, media_type.find(';'));
    const auto first = media_type.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    const auto last = media_type.find_last_not_of(" \t");
    return media_type.substr(first, last - first + 1);
}

// RFC 6838 section 4.2: type and subtype names are case-insensitive.
bool iequals(std::string_view a, std::string_view b) noexcept {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

} // namespace

manifest_kind kind_of(std::string_view media_type) noexcept {
    const auto type = essence(media_type);
    using namespace media_types;
    if (iequals(type, oci_manifest) || iequals(type, docker_manifest)) return manifest_kind::image;
    if (iequals(type, oci_index) || iequals(type, docker_manifest_list)) return manifest_kind::index;
    if (iequals(type, docker_schema1_signed) || iequals(type, docker_schema1)) return manifest_kind::schema1;
    return manifest_kind::unknown;
}

const std::string& manifest_accept_header() {
    using namespace media_types;
    static const std::string header = [] {
        std::string out;
        for (const auto type : {oci_manifest, oci_index, docker_manifest, docker_manifest_list,
                                docker_schema1_signed, docker_schema1}) {
            if (!out.empty()) out += ", ";
            out += type;
        }
        return out;
    }();
    return header;
}

bool is_foreign_layer(std::string_view media_type) noexcept {
    const auto type = essence(media_type);
    // image-spec "Image Layer Filesystem Changeset": every nondistributable.* layer type may be withheld.
    constexpr std::string_view oci_nondistributable = "application/vnd.oci.image.layer.nondistributable.";
    return iequals(type, media_types::docker_foreign_layer) ||
           (type.size() > oci_nondistributable.size() &&
            iequals(type.substr(0, oci_nondistributable.size()), oci_nondistributable));
}

} // namespace libregistry
