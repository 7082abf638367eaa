#include "libregistry/core/media_type.hpp"

#include "core/detail/ascii.hpp"

namespace libregistry {
// RFC 6838 section 4.2: type and subtype names are case-insensitive.
using detail::iequals;

std::string_view media_type_essence(std::string_view media_type) noexcept {
    return detail::trim(media_type.substr(0, media_type.find(';')));
}

manifest_kind kind_of(std::string_view media_type) noexcept {
    const auto type = media_type_essence(media_type);
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

bool is_image_config(std::string_view media_type) noexcept {
    const auto essence = media_type_essence(media_type);
    return iequals(essence, "application/vnd.oci.image.config.v1+json") ||
           iequals(essence, "application/vnd.docker.container.image.v1+json");
}

bool is_foreign_layer(std::string_view media_type) noexcept {
    const auto type = media_type_essence(media_type);
    // image-spec "Image Layer Filesystem Changeset": every nondistributable.* layer type may be withheld.
    constexpr std::string_view oci_nondistributable = "application/vnd.oci.image.layer.nondistributable.";
    return iequals(type, media_types::docker_foreign_layer) ||
           (type.size() > oci_nondistributable.size() &&
            iequals(type.substr(0, oci_nondistributable.size()), oci_nondistributable));
}

} // namespace libregistry
