#include "libregistry/core/media_type.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace libregistry;

TEST_CASE("kind_of") {
    struct kind_case {
        std::string media_type;
        manifest_kind expected;
    };
    const kind_case cases[] = {
        {"application/vnd.oci.image.manifest.v1+json", manifest_kind::image},
        {"application/vnd.docker.distribution.manifest.v2+json", manifest_kind::image},
        {"application/vnd.oci.image.index.v1+json", manifest_kind::index},
        {"application/vnd.docker.distribution.manifest.list.v2+json", manifest_kind::index},
        {"application/vnd.docker.distribution.manifest.v1+json", manifest_kind::schema1},
        {"application/vnd.docker.distribution.manifest.v1+prettyjws", manifest_kind::schema1},
        {"application/vnd.oci.image.manifest.v1+json; charset=utf-8", manifest_kind::image},
        {"application/vnd.oci.image.index.v1+json;charset=utf-8", manifest_kind::index},
        {"  application/vnd.docker.distribution.manifest.v2+json ; q=0.5", manifest_kind::image},
        {"Application/VND.OCI.Image.Manifest.v1+JSON", manifest_kind::image},
        {"application/json", manifest_kind::unknown},
        {"text/plain", manifest_kind::unknown},
        {"", manifest_kind::unknown},
        {";", manifest_kind::unknown},
        {"application/vnd.oci.image.config.v1+json", manifest_kind::unknown},
        {"application/vnd.oci.image.manifest.v1+jsonx", manifest_kind::unknown},
        {"application/vnd.oci.artifact.manifest.v1+json", manifest_kind::unknown},
    };
    for (const auto& c : cases) {
        CAPTURE(c.media_type);
        CHECK(kind_of(c.media_type) == c.expected);
    }
}

TEST_CASE("manifest_accept_header lists every manifest type, comma separated") {
    const auto& header = manifest_accept_header();
    CHECK(header == "application/vnd.oci.image.manifest.v1+json, "
                    "application/vnd.oci.image.index.v1+json, "
                    "application/vnd.docker.distribution.manifest.v2+json, "
                    "application/vnd.docker.distribution.manifest.list.v2+json, "
                    "application/vnd.docker.distribution.manifest.v1+prettyjws, "
                    "application/vnd.docker.distribution.manifest.v1+json");
    CHECK(&header == &manifest_accept_header());
}

TEST_CASE("is_foreign_layer") {
    struct foreign_case {
        std::string media_type;
        bool expected;
    };
    const foreign_case cases[] = {
        {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", true},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar", true},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", true},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", true},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip; foo=bar", true},
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", false},
        {"application/vnd.oci.image.layer.v1.tar+gzip", false},
        {"application/vnd.oci.image.layer.nondistributable.", false},
        {"application/vnd.oci.empty.v1+json", false},
        {"", false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.media_type);
        CHECK(is_foreign_layer(c.media_type) == c.expected);
    }
}
