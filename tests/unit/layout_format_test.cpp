#include <libregistry/storage/layout_format.hpp>

#include <doctest/doctest.h>

using namespace libregistry;

TEST_CASE("is_valid_ref_name follows the image-spec ref.name grammar") {
    struct row {
        std::string name;
        bool valid;
    };
    const std::vector<row> rows{
        {"latest", true},
        {"3.19", true},
        {"library/alpine:3.19", true},
        {"localhost:5000/team/app:v1.2-rc", true},
        {"app@sha256:abc", true},
        {"a--b", true},
        {"v1+build", true},
        {"", false},
        {"_x", false},
        {"a__b", false},
        {"a---b", false},
        {"x/", false},
        {"/x", false},
        {"a//b", false},
        {"../x", false},
        {"a:", false},
        {"a b", false},
        {"caf\xc3\xa9", false},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        CHECK(is_valid_ref_name(r.name) == r.valid);
    }
}

TEST_CASE("layout_index_file writes what parse_layout_index reads back") {
    descriptor d;
    d.media_type = "application/vnd.oci.image.manifest.v1+json";
    d.digest = digest_of("m");
    d.size = 1;
    d.platform = platform{"linux", "arm64", "v8", ""};
    d.artifact_type = "application/x-test";
    d.annotations = {{std::string(ref_name_annotation), "team/app:v1"},
                     {std::string(repository_annotation), "team/app"}};
    const auto back = parse_layout_index(layout_index_file({d, d}), "index.json");
    REQUIRE(back.has_value());
    REQUIRE(back->size() == 2);
    CHECK((*back)[1].digest == d.digest);
    CHECK((*back)[1].platform == d.platform);
    CHECK((*back)[1].annotations == d.annotations);
    CHECK((*back)[1].artifact_type == d.artifact_type);
    CHECK(blob_path(d.digest) == "blobs/sha256/" + std::string(d.digest.encoded()));
}

TEST_CASE("parse_oci_layout accepts 1.x only") {
    CHECK(parse_oci_layout(R"({"imageLayoutVersion":"1.0.0"})", "oci-layout").has_value());
    CHECK(parse_oci_layout(R"({"imageLayoutVersion":"1.1.0","extra":true})", "oci-layout").has_value());
    for (const std::string bad :
         {"", "null", "[]", R"({"imageLayoutVersion":1})", R"({"imageLayoutVersion":"0.9"})"}) {
        CAPTURE(bad);
        const auto r = parse_oci_layout(bad, "DIR/oci-layout");
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == errc::invalid_archive);
        CHECK(r.error().message.starts_with("DIR/oci-layout: "));
    }
}
