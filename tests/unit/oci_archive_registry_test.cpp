#include "storage_fixtures.hpp"
#include "tar_fixtures.hpp"
#include "temp_dir.hpp"

#include <libregistry/storage/layout_format.hpp>
#include <libregistry/storage/oci_archive_registry.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

using namespace libregistry;
using namespace libregistry::testing;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::unique_ptr<oci_archive_registry> open_archive(const fs::path& file, bool writable,
                                                   const fs::path& spool = {}) {
    auto r = oci_archive_registry::open(file, oci_archive_options{layout_naming::bundle, writable, spool});
    if (!r) FAIL_CHECK(r.error().message);
    REQUIRE(r.has_value());
    return std::move(*r);
}

} // namespace

TEST_CASE("images, indexes and nested indexes round-trip through .tar, .tar.gz and .tar.zst bundles") {
    temp_dir tmp;
    memory_registry source("src.test");
    const auto image = add_image(source, "library/alpine", {"layer one", "shared"}, "3.19");
    const auto amd = add_image(source, "team/app", {"shared", "amd"}, {}, "linux/amd64");
    const auto arm = add_image(source, "team/app", {"shared", "arm"}, {}, "linux/arm64");
    const auto inner = add_index(source, "team/app", {{arm, "linux/arm64"}}, {});
    const auto nested = add_index(source, "team/app", {{inner, ""}, {amd, "linux/amd64"}}, "v1");
    for (const std::string name : {"bundle.tar", "bundle.tar.gz", "bundle.tar.zst"}) {
        CAPTURE(name);
        const auto out = tmp.path() / "out";
        fs::create_directories(out);
        const auto file = out / name;
        {
            auto archive = open_archive(file, true);
            copy(source, "src.test/library/alpine:3.19", *archive, "oci.test/library/alpine:3.19");
            copy(source, "src.test/team/app:v1", *archive, "oci.test/team/app:v1");
            CHECK_FALSE(fs::exists(file)); // nothing until finish()
            REQUIRE(archive->finish().has_value());
        }
        // Only the archive is left: the temp layout went with the writer.
        CHECK(entries_in(out) == 1);
        const auto spool = tmp.path() / "spool";
        fs::create_directories(spool);
        {
            auto archive = open_archive(file, false, spool);
            CHECK(run(archive->list_tags("team/app")).value() == std::vector<std::string>{"v1"});
            memory_registry back("dst.test");
            CHECK(copy(*archive, "oci.test/library/alpine:3.19", back, "dst.test/library/alpine:3.19")
                      .manifest_digest == image.digest);
            CHECK(copy(*archive, "oci.test/team/app:v1", back, "dst.test/team/app:v1").manifest_digest ==
                  nested.digest);
            CHECK(back.has_manifest("team/app", inner.digest.str()));
            CHECK(entries_in(spool) == 1);
        }
        CHECK(entries_in(spool) == 0); // the spool is removed with the reader
        fs::remove_all(out);
    }
}

TEST_CASE("a writer abandoned before finish leaves the previous archive as it was") {
    temp_dir tmp;
    memory_registry source("src.test");
    add_image(source, "library/alpine", {"one"}, "1");
    add_image(source, "library/alpine", {"two"}, "2");
    const auto file = tmp.path() / "b.tar.zst";
    {
        auto first = open_archive(file, true);
        copy(source, "src.test/library/alpine:1", *first, "oci.test/library/alpine:1");
        REQUIRE(first->finish().has_value());
    }
    const auto before = slurp(file);
    {
        auto second = open_archive(file, true);
        copy(source, "src.test/library/alpine:2", *second, "oci.test/library/alpine:2");
    }
    CHECK(slurp(file) == before);
    CHECK(entries_in(tmp.path()) == 1);
    auto reader = open_archive(file, false);
    CHECK(run(reader->list_tags("library/alpine")).value() == std::vector<std::string>{"1"});
}

TEST_CASE(
    "archives that are unsafe, incomplete or corrupt are refused at open, naming the archive and entry") {
    temp_dir tmp;
    const auto layout = tar_entry_bytes("oci-layout", '0', oci_layout_file());
    const std::string blob = "config";
    const auto blob_digest = digest_of(blob);
    const auto manifest_bytes = fmt::format(
        R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}})",
        descriptor_json("application/vnd.oci.image.config.v1+json", blob_digest, blob.size()));
    const auto manifest_digest = digest_of(manifest_bytes);
    descriptor entry;
    entry.media_type = "application/vnd.oci.image.manifest.v1+json";
    entry.digest = manifest_digest;
    entry.size = static_cast<std::int64_t>(manifest_bytes.size());
    entry.annotations = {{std::string(ref_name_annotation), "app:v1"},
                         {std::string(repository_annotation), "app"}};
    const auto index = tar_entry_bytes("index.json", '0', layout_index_file({entry}));
    const auto manifest_entry = tar_entry_bytes(blob_path(manifest_digest), '0', manifest_bytes);
    const auto blob_entry = tar_entry_bytes(blob_path(blob_digest), '0', blob);
    struct row {
        std::string name;
        std::string bytes;
        std::string expected;
    };
    const std::vector<row> rows{
        {"missing blob", layout + index + manifest_entry + tar_end(),
         "index.json entry app:v1 is incomplete: manifest " + manifest_digest.str() + " names blob " +
             blob_digest.str() + ", which is missing"},
        {"missing manifest", layout + index + blob_entry + tar_end(),
         "index.json entry app:v1 is incomplete"},
        {"no index.json", layout + blob_entry + tar_end(), "it has no index.json"},
        {"escaping entry", layout + tar_entry_bytes("../../outside", '0', "x") + tar_end(),
         "entry \"../../outside\": the name contains \"..\""},
        {"symlinked blob",
         layout + index + manifest_entry + tar_entry_bytes(blob_path(blob_digest), '2', "", "/etc/passwd") +
             tar_end(),
         "a symbolic link"},
        {"truncated gzip",
         gzip_bytes(layout + index + manifest_entry + blob_entry + tar_end()).substr(0, 300), "truncated"},
    };
    const auto spool = tmp.path() / "spool";
    fs::create_directories(spool);
    for (const auto& r : rows) {
        CAPTURE(r.name);
        const auto file = tmp.write(r.name + ".tar", r.bytes);
        const auto opened =
            oci_archive_registry::open(file, oci_archive_options{layout_naming::bundle, false, spool});
        REQUIRE_FALSE(opened.has_value());
        CAPTURE(opened.error().message);
        CHECK(opened.error().code == errc::invalid_archive);
        CHECK(opened.error().message.find(file) != std::string::npos);
        CHECK(opened.error().message.find(r.expected) != std::string::npos);
        CHECK(entries_in(spool) == 0); // nothing left behind
        CHECK_FALSE(fs::exists(tmp.path() / "outside"));
    }
    // Complete, but a blob's bytes do not match its digest: found when it is read, and the copy fails.
    auto wrong_blob = tar_entry_bytes(blob_path(blob_digest), '0', "CONFIG");
    const auto file = tmp.write("corrupt.tar", layout + index + manifest_entry + wrong_blob + tar_end());
    auto archive = open_archive(file, false, spool);
    memory_registry back("dst.test");
    const auto copied = run(copy_image(*archive, image_ref("oci.test/app:v1"), back,
                                       image_ref("dst.test/app:v1"), copy_options{}));
    REQUIRE_FALSE(copied.has_value());
    CAPTURE(copied.error().message);
    CHECK(copied.error().message.find(blob_digest.str()) != std::string::npos);
    CHECK_FALSE(back.has_manifest("app", "v1"));
}

TEST_CASE("an archive name must say its compression") {
    temp_dir tmp;
    const auto r = oci_archive_registry::open(tmp.path() / "bundle.zip",
                                              oci_archive_options{layout_naming::bundle, true, {}});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_argument);
    CHECK(r.error().message.find(".tar.zst") != std::string::npos);
}

TEST_CASE("an archive export streams each blob into the archive as it commits: no temp copy of the bundle") {
    temp_dir tmp;
    memory_registry source("src.test");
    const auto image = add_image(source, "library/alpine", {"layer one", "layer two"}, "3.19");
    const auto blobs = image.blobs();
    REQUIRE(blobs.size() == 3);
    const auto out = tmp.path() / "out";
    fs::create_directories(out);
    const auto file = out / "bundle.tar.zst";
    // Every regular file next to the target (recursively) named after blob `d`.
    auto files_named = [&](const digest& d) {
        std::size_t n = 0;
        for (const auto& e : fs::recursive_directory_iterator(out))
            if (e.is_regular_file() && e.path().filename() == std::string(d.encoded())) ++n;
        return n;
    };
    {
        auto archive = open_archive(file, true);
        for (std::size_t i = 0; i < blobs.size(); ++i) {
            CAPTURE(i);
            const auto& b = blobs[i];
            auto reader = run(source.get_blob("library/alpine", b));
            REQUIRE(reader.has_value());
            auto session = run(archive->start_upload("library/alpine", b.digest, std::nullopt));
            REQUIRE(session.has_value());
            REQUIRE(session->has_value());
            auto done = run(archive->finish_upload(**session, b, **reader));
            if (!done) FAIL_CHECK(done.error().message);
            REQUIRE(done.has_value());
            // The blob went into the archive stream: no file of it is left beside the target.
            CHECK(files_named(b.digest) == 0);
            for (std::size_t j = 0; j <= i; ++j)
                CHECK(run(archive->has_blob("library/alpine", blobs[j].digest)).value());
            for (std::size_t j = i + 1; j < blobs.size(); ++j)
                CHECK_FALSE(run(archive->has_blob("library/alpine", blobs[j].digest)).value());
            // A mount of a blob already written needs no upload.
            auto mounted = run(archive->start_upload("other/repo", b.digest, std::string("library/alpine")));
            REQUIRE(mounted.has_value());
            CHECK_FALSE(mounted->has_value());
        }
        auto back = run(archive->get_blob("library/alpine", blobs[0]));
        REQUIRE_FALSE(back.has_value());
        CHECK(back.error().message.find("already written into archive") != std::string::npos);
        REQUIRE(run(archive->put_manifest("library/alpine", "3.19", image)).has_value());
        CHECK_FALSE(fs::exists(file));
        REQUIRE(archive->finish().has_value());
    }
    CHECK(entries_in(out) == 1);
    // The streamed archive reads back whole, index.json at its end.
    const auto spool = tmp.path() / "spool";
    fs::create_directories(spool);
    auto archive = open_archive(file, false, spool);
    memory_registry dst("dst.test");
    CHECK(
        copy(*archive, "oci.test/library/alpine:3.19", dst, "dst.test/library/alpine:3.19").manifest_digest ==
        image.digest);
    const auto index = nlohmann::json::parse(slurp(archive->layout().path() / "index.json"));
    CHECK(index["manifests"].size() == 1);
}

TEST_CASE("an archive export that is not finished leaves neither the target nor a temp file behind") {
    temp_dir tmp;
    memory_registry source("src.test");
    add_image(source, "library/alpine", {"layer one"}, "3.19");
    const auto out = tmp.path() / "out";
    fs::create_directories(out);
    const auto file = out / "bundle.tar.gz";
    {
        auto archive = open_archive(file, true);
        copy(source, "src.test/library/alpine:3.19", *archive, "oci.test/library/alpine:3.19");
        CHECK(entries_in(out) == 2); // the temp archive and the work directory
    }
    CHECK(entries_in(out) == 0);
}

TEST_CASE("a writer removes what a killed writer of the same archive left, never a live writer's files") {
    temp_dir tmp;
    memory_registry source("src.test");
    const auto image = add_image(source, "library/alpine", {"layer one"}, "3.19");
    const auto out = tmp.path() / "out";
    fs::create_directories(out);
    const auto file = out / "bundle.tar.zst";
    // What a writer killed by SIGKILL leaves: nobody holds their locks any more.
    const auto dead_temp = out / ".bundle.tar.zst.tmp-AbC123";
    const auto dead_work = out / ".bundle.tar.zst.syncer-XyZ789";
    std::ofstream(dead_temp) << "partial";
    fs::create_directories(dead_work / "layout" / "blobs");
    std::ofstream(dead_work / "layout" / "blobs" / "x") << "partial";
    // Look-alikes that are not a writer's files of this target stay.
    const auto other_archive = out / ".other.tar.tmp-AbC123";
    const auto not_a_temp = out / ".bundle.tar.zst.tmp-notmine-suffix";
    std::ofstream(other_archive) << "x";
    std::ofstream(not_a_temp) << "x";
    {
        auto first = open_archive(file, true);
        CHECK_FALSE(fs::exists(dead_temp));
        CHECK_FALSE(fs::exists(dead_work));
        CHECK(fs::exists(other_archive));
        CHECK(fs::exists(not_a_temp));
        CHECK(entries_in(out) == 4); // first's temp archive and work directory, the two look-alikes
        copy(source, "src.test/library/alpine:3.19", *first, "oci.test/library/alpine:3.19");
        {
            // A second writer of the same target while the first is alive: the first's files are locked.
            auto second = open_archive(file, true);
            CHECK(entries_in(out) == 6);
        }
        CHECK(entries_in(out) == 4);
        REQUIRE(first->finish().has_value());
    }
    CHECK(entries_in(out) == 3);
    auto archive = open_archive(file, false);
    CHECK(run(archive->head_manifest("library/alpine", "3.19")).value()->digest == image.digest);
}
