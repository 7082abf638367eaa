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

namespace {

digest hex_digest(char c) {
    return *digest::parse("sha256:" + std::string(64, c));
}

} // namespace

TEST_CASE("delta_file writes what parse_delta_file reads back") {
    delta_record r;
    r.base = "oci-archive:/media/week1.tar.zst";
    r.base_index = hex_digest('a');
    r.omitted = {hex_digest('b'), hex_digest('c')};
    const auto text = delta_file(r);
    auto back = parse_delta_file(text, "syncer-delta.json");
    REQUIRE(back.has_value());
    CHECK(back->base == r.base);
    CHECK(back->base_index == r.base_index);
    CHECK(back->omitted == r.omitted);
    delta_record empty;
    empty.base = "x";
    empty.base_index = hex_digest('d');
    auto none = parse_delta_file(delta_file(empty), "d");
    REQUIRE(none.has_value());
    CHECK(none->omitted.empty());
}

TEST_CASE("parse_delta_file refuses malformed records, naming the file and what is wrong") {
    const std::string a = "sha256:" + std::string(64, 'a');
    const std::string b = "sha256:" + std::string(64, 'b');
    struct row {
        std::string text;
        std::string says;
    };
    const std::vector<row> rows{
        {"", "not a JSON object"},
        {"[]", "not a JSON object"},
        {R"({"baseIndex":")" + a + R"(","omitted":[]})", "base is missing"},
        {R"({"base":"","baseIndex":")" + a + R"(","omitted":[]})", "base is missing"},
        {R"({"base":1,"baseIndex":")" + a + R"(","omitted":[]})", "base is missing"},
        {R"({"base":"a\nb","baseIndex":")" + a + R"(","omitted":[]})", "control character"},
        {R"({"base":")" + std::string(4097, 'x') + R"(","baseIndex":")" + a + R"(","omitted":[]})",
         "longer than 4096"},
        {R"({"base":"x","omitted":[]})", "baseIndex is missing"},
        {R"({"base":"x","baseIndex":"md5:00","omitted":[]})", "baseIndex \"md5:00\" is not a digest"},
        {R"({"base":"x","baseIndex":")" + a + R"("})", "omitted is missing"},
        {R"({"base":"x","baseIndex":")" + a + R"(","omitted":{}})", "omitted is missing"},
        {R"({"base":"x","baseIndex":")" + a + R"(","omitted":[1]})", "omitted[0] is not a string"},
        {R"({"base":"x","baseIndex":")" + a + R"(","omitted":[")" + b + R"(","../x"]})",
         "omitted[1] \"../x\" is not a digest"},
        {R"({"base":"x","baseIndex":")" + a + R"(","omitted":[")" + b + R"(",")" + b + R"("]})",
         "listed twice"},
        {R"({"base":"x","baseIndex":")" + a + R"(","omitted":[],"extra":1})", "unknown key \"extra\""},
    };
    for (const auto& r : rows) {
        CAPTURE(r.text.substr(0, 200));
        auto parsed = parse_delta_file(r.text, "DIR/syncer-delta.json");
        REQUIRE_FALSE(parsed.has_value());
        CHECK(parsed.error().code == errc::invalid_archive);
        CHECK(parsed.error().message.find("DIR/syncer-delta.json") != std::string::npos);
        CHECK(parsed.error().message.find(r.says) != std::string::npos);
    }
    const std::string huge(max_delta_file_size + 1, ' ');
    auto too_big = parse_delta_file(huge, "f");
    REQUIRE_FALSE(too_big.has_value());
    CHECK(too_big.error().message.find("more than") != std::string::npos);
}

TEST_CASE("the blob list annotation of index.json round-trips and is optional") {
    descriptor d;
    d.media_type = "application/vnd.oci.image.manifest.v1+json";
    d.digest = hex_digest('e');
    d.size = 10;
    const std::set<digest> blobs{hex_digest('e'), hex_digest('f')};
    const auto text = layout_index_file({d}, blobs);
    auto entries = parse_layout_index(text, "index.json");
    REQUIRE(entries.has_value());
    CHECK(entries->size() == 1);
    auto list = parse_layout_blob_list(text, "index.json");
    REQUIRE(list.has_value());
    REQUIRE(list->has_value());
    CHECK(**list == blobs);
    auto none = parse_layout_blob_list(layout_index_file({d}), "index.json");
    REQUIRE(none.has_value());
    CHECK_FALSE(none->has_value());
    auto bad = parse_layout_blob_list(
        R"({"schemaVersion":2,"manifests":[],"annotations":{"io.github.syncer.blobs":"sha256:12 x"}})",
        "i.json");
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().message.find("i.json") != std::string::npos);
    CHECK(bad.error().message.find("is not a digest") != std::string::npos);
    auto not_string = parse_layout_blob_list(
        R"({"schemaVersion":2,"manifests":[],"annotations":{"io.github.syncer.blobs":1}})", "i.json");
    CHECK_FALSE(not_string.has_value());
}
