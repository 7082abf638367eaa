#include "storage_fixtures.hpp"
#include "temp_dir.hpp"

#include <libregistry/storage/layout_format.hpp>
#include <libregistry/storage/oci_layout_registry.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace libregistry;
using namespace libregistry::testing;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<oci_layout_registry> open_layout(const fs::path& dir, bool writable,
                                                 layout_naming naming = layout_naming::bundle) {
    auto r = oci_layout_registry::open(dir, oci_layout_options{naming, writable});
    if (!r) FAIL_CHECK(r.error().message);
    REQUIRE(r.has_value());
    return std::move(*r);
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, std::string_view text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

nlohmann::json index_json(const fs::path& dir) {
    return nlohmann::json::parse(read_file(dir / "index.json"));
}

// Reads a blob to its end through the layout's reader; the error of the last read, if any.
result<std::string> read_blob(registry& reg, const descriptor& desc) {
    auto reader = run(reg.get_blob("any", desc));
    if (!reader) return reader.error();
    std::string out;
    std::array<std::byte, 5> chunk{};
    for (;;) {
        auto n = run((*reader)->read(chunk));
        if (!n) return n.error();
        if (*n == 0) return out;
        out.append(reinterpret_cast<const char*>(chunk.data()), *n);
    }
}

struct seeded {
    memory_registry source{"src.test"};
    manifest image, index, nested;
    seeded() {
        image = add_image(source, "library/alpine", {"layer one", "shared base"}, "3.19");
        const auto amd = add_image(source, "team/app", {"shared base", "amd64 app"}, {}, "linux/amd64");
        const auto arm = add_image(source, "team/app", {"shared base", "arm64 app"}, {}, "linux/arm64");
        index = add_index(source, "team/app", {{amd, "linux/amd64"}, {arm, "linux/arm64"}}, "v1");
        const auto inner = add_index(source, "team/app", {{arm, "linux/arm64"}}, {});
        nested = add_index(source, "team/app", {{inner, ""}, {amd, "linux/amd64"}}, "nested");
    }
};

std::size_t blob_files(const fs::path& dir) {
    std::size_t n = 0;
    for (const auto& f : fs::directory_iterator(dir / "blobs" / "sha256"))
        n += f.is_regular_file();
    return n;
}

} // namespace

TEST_CASE("image, index and nested index go into a bundle layout and come back with their digests") {
    temp_dir tmp;
    const auto dir = tmp.path() / "bundle";
    seeded s;
    {
        auto layout = open_layout(dir, true);
        copy(s.source, "src.test/library/alpine:3.19", *layout, "oci.test/library/alpine:3.19");
        copy(s.source, "src.test/team/app:v1", *layout, "oci.test/team/app:v1");
        copy(s.source, "src.test/team/app:nested", *layout, "oci.test/team/app:nested");
        // Nothing is visible before finish().
        CHECK_FALSE(fs::exists(dir / "index.json"));
        REQUIRE(layout->finish().has_value());
    }
    CHECK(read_file(dir / "oci-layout") == R"({"imageLayoutVersion":"1.0.0"})");
    // Each blob once: the shared base layer and the config alpine and the amd64 app share are stored a single
    // time. 2 distinct configs, 4 distinct layers, 3 image manifests, 3 indexes.
    CHECK(blob_files(dir) == 2 + 4 + 3 + 3);

    auto layout = open_layout(dir, false);
    CHECK(run(layout->list_tags("library/alpine")).value() == std::vector<std::string>{"3.19"});
    CHECK(run(layout->list_tags("team/app")).value() == std::vector<std::string>{"v1", "nested"});
    CHECK(layout->repositories() == std::vector<std::string>{"library/alpine", "team/app"});
    const auto missing = run(layout->list_tags("nobody/here"));
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().code == errc::name_unknown);

    memory_registry back("dst.test");
    CHECK(
        copy(*layout, "oci.test/library/alpine:3.19", back, "dst.test/library/alpine:3.19").manifest_digest ==
        s.image.digest);
    CHECK(copy(*layout, "oci.test/team/app:v1", back, "dst.test/team/app:v1").manifest_digest ==
          s.index.digest);
    CHECK(copy(*layout, "oci.test/team/app:nested", back, "dst.test/team/app:nested").manifest_digest ==
          s.nested.digest);
    CHECK(run(back.get_manifest("team/app", "nested")).value().bytes == s.nested.bytes);
}

TEST_CASE(
    "bundle naming: ref.name is <repository>:<tag> with the repository annotation; single naming: the tag") {
    temp_dir tmp;
    seeded s;
    {
        auto bundle = open_layout(tmp.path() / "bundle", true);
        copy(s.source, "src.test/library/alpine:3.19", *bundle, "oci.test/library/alpine:3.19");
        REQUIRE(bundle->finish().has_value());
        auto single = open_layout(tmp.path() / "single", true, layout_naming::single);
        copy(s.source, "src.test/library/alpine:3.19", *single, "oci.test/whatever:latest");
        REQUIRE(single->finish().has_value());
    }
    const auto bundle = index_json(tmp.path() / "bundle");
    CHECK(bundle["mediaType"] == "application/vnd.oci.image.index.v1+json");
    REQUIRE(bundle["manifests"].size() == 1);
    const auto& entry = bundle["manifests"][0];
    CHECK(entry["digest"] == s.image.digest.str());
    CHECK(entry["mediaType"] == "application/vnd.oci.image.manifest.v1+json");
    CHECK(entry["size"] == s.image.bytes.size());
    CHECK(entry["annotations"]["org.opencontainers.image.ref.name"] == "library/alpine:3.19");
    CHECK(entry["annotations"]["io.github.syncer.repository"] == "library/alpine");

    const auto single = index_json(tmp.path() / "single");
    CHECK(single["manifests"][0]["annotations"] ==
          nlohmann::json{{"org.opencontainers.image.ref.name", "latest"}});
    // A single view answers for any repository name.
    auto view = open_layout(tmp.path() / "single", false, layout_naming::single);
    CHECK(run(view->list_tags("anything")).value() == std::vector<std::string>{"latest"});
    CHECK(run(view->head_manifest("x", "latest")).value()->digest == s.image.digest);
}

TEST_CASE("a retag replaces the entry; delete_tag and delete_manifest drop entries and keep blobs") {
    temp_dir tmp;
    const auto dir = tmp.path() / "l";
    seeded s;
    auto layout = open_layout(dir, true);
    copy(s.source, "src.test/library/alpine:3.19", *layout, "oci.test/library/alpine:3.19");
    copy(s.source, "src.test/team/app:v1", *layout, "oci.test/library/alpine:3.19");
    copy(s.source, "src.test/team/app:v1", *layout, "oci.test/library/alpine:keep");
    CHECK(layout->entries().size() == 2);
    CHECK(run(layout->head_manifest("library/alpine", "3.19")).value()->digest == s.index.digest);
    CHECK(run(layout->delete_tag("library/alpine", "3.19")).value());
    CHECK_FALSE(run(layout->delete_tag("library/alpine", "3.19")).value());
    REQUIRE(layout->finish().has_value());
    CHECK(index_json(dir)["manifests"].size() == 1);
    CHECK(run(layout->delete_manifest("library/alpine", s.index.digest)).value());
    REQUIRE(layout->finish().has_value());
    CHECK(index_json(dir)["manifests"].empty());
    CHECK(fs::exists(dir / blob_path(s.index.digest)));
    // Still readable by digest: the blob stayed.
    CHECK(run(layout->get_manifest("library/alpine", s.index.digest.str())).value().digest == s.index.digest);
}

TEST_CASE("a manifest whose blobs are not in the layout is refused, and index.json never names it") {
    temp_dir tmp;
    seeded s;
    auto layout = open_layout(tmp.path() / "l", true);
    const auto r = run(layout->put_manifest("library/alpine", "3.19", s.image));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::manifest_blob_unknown);
    CHECK(r.error().message.find("names blob") != std::string::npos);
    CHECK(layout->entries().empty());
}

TEST_CASE("tags that cannot be a spec-conformant ref.name are refused naming the tag") {
    temp_dir tmp;
    seeded s;
    auto layout = open_layout(tmp.path() / "l", true);
    copy(s.source, "src.test/library/alpine:3.19", *layout, "oci.test/library/alpine:3.19");
    for (const std::string tag : {"_private", "a__b", "x---y"}) {
        CAPTURE(tag);
        const auto r = run(layout->put_manifest("library/alpine", tag, s.image));
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == errc::invalid_reference);
        CHECK(r.error().message.find(tag) != std::string::npos);
    }
    const auto bad_repo = run(layout->put_manifest("../../etc", "x", s.image));
    REQUIRE_FALSE(bad_repo.has_value());
    CHECK(bad_repo.error().code == errc::name_invalid);
}

TEST_CASE("a layout opened for reading refuses writes; one opened for writing refuses a second writer") {
    temp_dir tmp;
    const auto dir = tmp.path() / "l";
    seeded s;
    auto writer = open_layout(dir, true);
    REQUIRE(writer->finish().has_value());
    const auto second = oci_layout_registry::open(dir, oci_layout_options{layout_naming::bundle, true});
    REQUIRE_FALSE(second.has_value());
    CHECK(second.error().code == errc::busy);
    CHECK(second.error().message.find(dir.string()) != std::string::npos);
    CHECK(second.error().message.find("another process") != std::string::npos);
    // Readers take no lock.
    auto reader = open_layout(dir, false);
    const auto put = run(reader->start_upload("library/alpine", std::nullopt, std::nullopt));
    REQUIRE_FALSE(put.has_value());
    CHECK(put.error().code == errc::unsupported);
    writer.reset();
    CHECK(oci_layout_registry::open(dir, oci_layout_options{layout_naming::bundle, true}).has_value());
}

TEST_CASE("crash: a writer abandoned before finish leaves the previous index.json intact and readable") {
    temp_dir tmp;
    const auto dir = tmp.path() / "l";
    seeded s;
    {
        auto first = open_layout(dir, true);
        copy(s.source, "src.test/library/alpine:3.19", *first, "oci.test/library/alpine:3.19");
        REQUIRE(first->finish().has_value());
    }
    const auto before = read_file(dir / "index.json");
    {
        auto second = open_layout(dir, true);
        copy(s.source, "src.test/team/app:v1", *second, "oci.test/team/app:v1");
        // An upload in flight when the process dies: its temp file stays behind.
        auto session = run(second->start_upload("team/app", std::nullopt, std::nullopt));
        REQUIRE(session.has_value());
        // Destroyed without finish(): as if killed.
    }
    CHECK(read_file(dir / "index.json") == before);
    auto reader = open_layout(dir, false);
    CHECK(run(reader->list_tags("library/alpine")).value() == std::vector<std::string>{"3.19"});
    CHECK_FALSE(run(reader->list_tags("team/app")).has_value());
    memory_registry back("dst.test");
    CHECK(
        copy(*reader, "oci.test/library/alpine:3.19", back, "dst.test/library/alpine:3.19").manifest_digest ==
        s.image.digest);
    // The next writer clears what the dead one left in the temp directory, and the rerun completes.
    auto rerun = open_layout(dir, true);
    CHECK(fs::is_empty(dir / ".syncer-tmp"));
    copy(s.source, "src.test/team/app:v1", *rerun, "oci.test/team/app:v1");
    REQUIRE(rerun->finish().has_value());
    CHECK(index_json(dir)["manifests"].size() == 2);
}

TEST_CASE("blob readers check the bytes against the digest while streaming") {
    temp_dir tmp;
    const auto dir = tmp.path() / "l";
    seeded s;
    {
        auto layout = open_layout(dir, true);
        copy(s.source, "src.test/library/alpine:3.19", *layout, "oci.test/library/alpine:3.19");
        REQUIRE(layout->finish().has_value());
    }
    auto layout = open_layout(dir, false);
    const auto layer = s.image.layers[0];
    CHECK(read_blob(*layout, layer).value() == "layer one");
    // Same size, one byte changed: only the end of the stream can tell.
    write_file(dir / blob_path(layer.digest), "layer onE");
    const auto corrupt = read_blob(*layout, layer);
    REQUIRE_FALSE(corrupt.has_value());
    CHECK(corrupt.error().code == errc::digest_mismatch);
    CHECK(corrupt.error().message.find(blob_path(layer.digest)) != std::string::npos);
    // Longer than the descriptor says.
    write_file(dir / blob_path(layer.digest), "layer one and more");
    CHECK(read_blob(*layout, layer).error().code == errc::digest_mismatch);
    // Copying out of a corrupt layout fails instead of passing the bytes on.
    memory_registry back("dst.test");
    CHECK_FALSE(run(copy_image(*layout, image_ref("oci.test/library/alpine:3.19"), back,
                               image_ref("dst.test/library/alpine:3.19"), copy_options{}))
                    .has_value());
    CHECK_FALSE(back.has_manifest("library/alpine", "3.19"));
    // A corrupt manifest blob.
    write_file(dir / blob_path(s.image.digest), s.image.bytes + " ");
    const auto m = run(layout->get_manifest("library/alpine", "3.19"));
    REQUIRE_FALSE(m.has_value());
    CHECK(m.error().code == errc::digest_mismatch);
    // A blob replaced by a symlink is refused, not followed.
    fs::remove(dir / blob_path(layer.digest));
    fs::create_symlink("/etc/passwd", dir / blob_path(layer.digest));
    const auto link = run(layout->get_blob("x", layer));
    REQUIRE_FALSE(link.has_value());
    CHECK(link.error().code == errc::invalid_archive);
    CHECK(link.error().message.find("symbolic link") != std::string::npos);
}

TEST_CASE("bad layouts are refused at open, naming the file and the entry") {
    temp_dir tmp;
    const auto good_digest = digest_of("x").str();
    struct row {
        std::string name;
        std::string oci_layout;
        std::string index;
        std::string expected;
    };
    const std::string ok_layout = R"({"imageLayoutVersion":"1.0.0"})";
    const std::vector<row> rows{
        {"layout not json", "{", R"({"schemaVersion":2,"manifests":[]})", "oci-layout: not a JSON object"},
        {"layout version", R"({"imageLayoutVersion":"2.0.0"})", R"({"schemaVersion":2,"manifests":[]})",
         "imageLayoutVersion \"2.0.0\" is not supported"},
        {"index not json", ok_layout, "[", "index.json: not a JSON object"},
        {"schema version", ok_layout, R"({"schemaVersion":1,"manifests":[]})", "schemaVersion is not 2"},
        {"media type", ok_layout, R"({"schemaVersion":2,"mediaType":"text/plain","manifests":[]})",
         "mediaType is not"},
        {"no manifests", ok_layout, R"({"schemaVersion":2})", "manifests is missing"},
        {"bad digest", ok_layout,
         R"({"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"sha256:../../etc/passwd","size":1}]})",
         "manifests[0].digest"},
        {"negative size", ok_layout,
         R"({"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":")" + good_digest +
             R"(","size":-1}]})",
         "manifests[0].size"},
        {"bad ref.name", ok_layout,
         R"({"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":")" + good_digest +
             R"(","size":1,"annotations":{"org.opencontainers.image.ref.name":"../x"}}]})",
         "is not a valid reference name"},
        {"annotation not string", ok_layout,
         R"({"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":")" + good_digest +
             R"(","size":1,"annotations":{"k":1}}]})",
         "manifests[0].annotations[\"k\"] is not a string"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        const auto dir = tmp.path() / r.name;
        fs::create_directories(dir);
        write_file(dir / "oci-layout", r.oci_layout);
        write_file(dir / "index.json", r.index);
        for (const bool writable : {false, true}) {
            const auto opened =
                oci_layout_registry::open(dir, oci_layout_options{layout_naming::bundle, writable});
            REQUIRE_FALSE(opened.has_value());
            CHECK(opened.error().code == errc::invalid_archive);
            CHECK(opened.error().message.find(r.expected) != std::string::npos);
            CHECK(opened.error().message.find(dir.string()) != std::string::npos);
        }
    }
    // A directory with files that is no layout is neither read nor written into.
    const auto other = tmp.path() / "home";
    fs::create_directories(other);
    write_file(other / "notes.txt", "mine");
    for (const bool writable : {false, true}) {
        const auto opened =
            oci_layout_registry::open(other, oci_layout_options{layout_naming::bundle, writable});
        REQUIRE_FALSE(opened.has_value());
        CHECK(opened.error().message.find("has no oci-layout file") != std::string::npos);
    }
    CHECK(fs::exists(other / "notes.txt"));
    CHECK_FALSE(fs::exists(other / "oci-layout"));
    // An index.json over the bound.
    const auto big = tmp.path() / "big";
    fs::create_directories(big);
    write_file(big / "oci-layout", ok_layout);
    {
        std::ofstream out(big / "index.json", std::ios::binary);
        out.seekp(static_cast<std::streamoff>(max_layout_index_size));
        out << ' ';
    }
    const auto opened = oci_layout_registry::open(big, oci_layout_options{});
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().code == errc::invalid_archive);
    CHECK(opened.error().message.find("more than the") != std::string::npos);
}

TEST_CASE("list_referrers reads the tag schema's index; without it the source is none") {
    temp_dir tmp;
    memory_registry source("src.test");
    const auto image = add_image(source, "team/app", {"layer"}, "v1");
    const auto sig = add_image(source, "team/app", {"signature"}, {});
    const auto fallback = add_index(source, "team/app", {{sig, ""}}, referrers_tag(image.digest));
    auto layout = open_layout(tmp.path() / "l", true);
    copy(source, "src.test/team/app:v1", *layout, "oci.test/team/app:v1");
    const auto none = run(layout->list_referrers("team/app", image.digest, std::nullopt)).value();
    CHECK(none.source == referrers_source::none);
    copy(source, "src.test/team/app:" + referrers_tag(image.digest), *layout,
         "oci.test/team/app:" + referrers_tag(image.digest));
    const auto found = run(layout->list_referrers("team/app", image.digest, std::nullopt)).value();
    CHECK(found.source == referrers_source::tag_schema);
    REQUIRE(found.descriptors.size() == 1);
    CHECK(found.descriptors[0].digest == sig.digest);
    CHECK(fallback.digest ==
          run(layout->head_manifest("team/app", referrers_tag(image.digest))).value()->digest);
}

TEST_CASE("a delta layout leaves out its base's blobs, records them, and refuses to serve them") {
    temp_dir tmp;
    seeded s;
    const auto base_dir = tmp.path() / "base";
    {
        auto base = open_layout(base_dir, true);
        copy(s.source, "src.test/library/alpine:3.19", *base, "oci.test/library/alpine:3.19");
        REQUIRE(base->finish().has_value());
    }
    auto base_blobs = open_layout(base_dir, false)->blob_set();
    REQUIRE(base_blobs.has_value());
    CHECK(base_blobs->size() == 4); // the manifest, its config and two layers
    const auto delta_dir = tmp.path() / "delta";
    {
        auto delta = open_layout(delta_dir, true);
        delta_record record{"oci:" + base_dir.string(), digest_of(read_file(base_dir / "index.json")),
                            *base_blobs};
        delta->omit_base_blobs(record);
        // alpine again (its manifest only) and team/app:v1, which shares "shared base" with alpine.
        copy(s.source, "src.test/library/alpine:3.19", *delta, "oci.test/library/alpine:3.19");
        copy(s.source, "src.test/team/app:v1", *delta, "oci.test/team/app:v1");
        REQUIRE(delta->finish().has_value());
    }
    // Stored: alpine's manifest; the index, two image manifests, the arm64 config, two app layers (the amd64
    // config is alpine's, in the base).
    CHECK(blob_files(delta_dir) == 1 + 1 + 2 + 1 + 2);
    auto record = parse_delta_file(read_file(delta_dir / delta_file_name), "syncer-delta.json");
    REQUIRE(record.has_value());
    CHECK(record->base == "oci:" + base_dir.string());
    CHECK(record->omitted.size() == 3); // alpine's config and layers
    for (const auto& d : record->omitted)
        CHECK_FALSE(fs::exists(delta_dir / blob_path(d)));
    // The index.json blob list names what is stored and what was left out.
    auto listed = parse_layout_blob_list(read_file(delta_dir / "index.json"), "index.json");
    REQUIRE(listed.has_value());
    REQUIRE(listed->has_value());
    CHECK((*listed)->size() == blob_files(delta_dir) + 3);

    auto reader = open_layout(delta_dir, false);
    REQUIRE(reader->verify_complete().has_value());
    REQUIRE(reader->delta().has_value());
    const auto omitted = *record->omitted.begin();
    CHECK_FALSE(run(reader->has_blob("library/alpine", omitted)).value());
    descriptor desc;
    desc.digest = omitted;
    desc.size = 1;
    auto refused = run(reader->get_blob("library/alpine", desc));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == errc::blob_unknown);
    CHECK(refused.error().message.find("base bundle oci:" + base_dir.string()) != std::string::npos);
    // The manifests are all there.
    CHECK(run(reader->get_manifest("team/app", "v1")).value().digest == s.index.digest);
    CHECK(run(reader->get_manifest("library/alpine", "3.19")).value().digest == s.image.digest);
}
