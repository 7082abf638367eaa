#include "storage_fixtures.hpp"
#include "tar_fixtures.hpp"
#include "temp_dir.hpp"

#include <libregistry/storage/docker_archive_format.hpp>
#include <libregistry/storage/docker_archive_registry.hpp>
#include <libregistry/storage/layout_format.hpp>
#include <libregistry/storage/oci_layout_registry.hpp>

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace libregistry;
using namespace libregistry::testing;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<docker_archive_registry> open_archive(const fs::path& file, bool writable,
                                                      const fs::path& spool = {}) {
    auto r = docker_archive_registry::open(file, docker_archive_options{writable, spool});
    if (!r) FAIL_CHECK(r.error().message);
    REQUIRE(r.has_value());
    return std::move(*r);
}

/// The entry names and contents of an archive, read with the project's tar reader.
std::map<std::string, std::string> archive_files(const fs::path& file) {
    auto source = open_archive_file(file);
    REQUIRE(source.has_value());
    tar_reader reader(**source, file.string());
    std::map<std::string, std::string> out;
    for (;;) {
        auto entry = reader.next();
        REQUIRE(entry.has_value());
        if (!*entry) return out;
        std::string data;
        std::array<std::byte, 4096> buffer{};
        for (;;) {
            auto n = reader.read(buffer);
            REQUIRE(n.has_value());
            if (*n == 0) break;
            data.append(reinterpret_cast<const char*>(buffer.data()), *n);
        }
        out[(*entry)->name] = data;
    }
}

/// A loadable OCI image: one gzip'd tar layer holding `file`, a config whose diff_ids name its uncompressed
/// bytes. (OCI types: skopeo 1.9.3's oci: transport skips index.json entries of Docker media types.)
manifest add_real_image(memory_registry& reg, const std::string& repo, const std::string& file,
                        const std::string& tag) {
    const auto plain = tar_entry_bytes(file, '0', "hello from " + file + "\n") + tar_end();
    const auto layer = gzip_bytes(plain);
    const auto layer_digest = reg.add_blob(repo, layer);
    const auto config = fmt::format(
        R"({{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}})",
        digest_of(plain).str());
    const auto config_digest = reg.add_blob(repo, config);
    const auto bytes = fmt::format(
        R"({{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[{}]}})", media_types::oci_manifest,
        descriptor_json("application/vnd.oci.image.config.v1+json", config_digest, config.size()),
        descriptor_json("application/vnd.oci.image.layer.v1.tar+gzip", layer_digest, layer.size()));
    return reg.add_manifest(repo, bytes, tag);
}

std::string run_command(const std::string& command) {
    std::string out;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::array<char, 4096> buffer{};
    while (auto n = std::fread(buffer.data(), 1, buffer.size(), pipe))
        out.append(buffer.data(), n);
    CHECK(::pclose(pipe) == 0);
    return out;
}

} // namespace

TEST_CASE("images round-trip through .tar and .tar.gz docker archives with their digests unchanged") {
    temp_dir tmp;
    memory_registry source("src.test");
    const auto alpine = add_image(source, "library/alpine", {"layer one", "shared"}, "3.19");
    const auto app =
        add_image(source, "team/app", {"shared", "app"}, "v1", "linux/arm64", media_types::docker_manifest);
    for (const std::string name : {"images.tar", "images.tar.gz"}) {
        CAPTURE(name);
        const auto out = tmp.path() / "out";
        fs::create_directories(out);
        const auto file = out / name;
        {
            auto archive = open_archive(file, true);
            copy(source, "src.test/library/alpine:3.19", *archive, "x.test/library/alpine:3.19");
            copy(source, "src.test/team/app:v1", *archive, "x.test/team/app:v1");
            copy(source, "src.test/team/app:v1", *archive, "x.test/team/app:latest");
            CHECK_FALSE(fs::exists(file)); // nothing until finish()
            REQUIRE(archive->finish().has_value());
        }
        CHECK(entries_in(out) == 1);
        // What docker load reads: manifest.json with Config, RepoTags, Layers; each layer once.
        const auto files = archive_files(file);
        REQUIRE(files.contains("manifest.json"));
        REQUIRE(files.contains("repositories"));
        auto index = parse_docker_archive_index(files.at("manifest.json"), "manifest.json");
        REQUIRE(index.has_value());
        REQUIRE(index->size() == 2);
        CHECK((*index)[0].repo_tags == std::vector<std::string>{"library/alpine:3.19"});
        CHECK((*index)[1].repo_tags == std::vector<std::string>{"team/app:v1", "team/app:latest"});
        CHECK((*index)[0].config == blob_path(alpine.config->digest));
        CHECK((*index)[0].layers == std::vector<std::string>{blob_path(alpine.layers[0].digest),
                                                             blob_path(alpine.layers[1].digest)});
        CHECK(files.at((*index)[1].manifest) == app.bytes);
        CHECK(files.size() == 2 + 2 + 2 + 3); // index files, two manifests, two configs, three layers
        const auto spool = tmp.path() / "spool";
        fs::create_directories(spool);
        {
            auto archive = open_archive(file, false, spool);
            CHECK(archive->images().size() == 2);
            CHECK(archive->repositories() == std::vector<std::string>{"library/alpine", "team/app"});
            CHECK(run(archive->list_tags("team/app")).value() == std::vector<std::string>{"v1", "latest"});
            memory_registry back("dst.test");
            CHECK(copy(*archive, "x.test/library/alpine:3.19", back, "dst.test/library/alpine:3.19")
                      .manifest_digest == alpine.digest);
            // docker's own spelling of the name finds the image too.
            CHECK(run(archive->head_manifest("alpine", "3.19")).value()->digest == alpine.digest);
            CHECK(
                copy(*archive, "x.test/team/app:latest", back, "dst.test/team/app:latest").manifest_digest ==
                app.digest);
            CHECK(back.has_manifest("team/app", app.digest.str()));
            const auto several = run(archive->head_manifest("team/app", ""));
            REQUIRE_FALSE(several.has_value());
            CHECK(several.error().message.find("holds 2 images (library/alpine:3.19, team/app:v1") !=
                  std::string::npos);
            CHECK_FALSE(run(archive->head_manifest("team/app", "v2")).value().has_value());
            CHECK(entries_in(spool) == 1);
        }
        CHECK(entries_in(spool) == 0);
        fs::remove_all(out);
    }
}

TEST_CASE("a docker archive export streams each blob into the archive as it commits: no temp layout") {
    temp_dir tmp;
    memory_registry source("src.test");
    const auto image = add_image(source, "library/alpine", {std::string(200000, 'a'), "layer two"}, "3.19");
    const auto out = tmp.path() / "out";
    fs::create_directories(out);
    const auto file = out / "images.tar.gz";
    // Bytes of every regular file beside the target but the temp archive being written.
    auto temp_bytes = [&] {
        std::uintmax_t n = 0;
        for (const auto& e : fs::recursive_directory_iterator(out))
            if (e.is_regular_file() && e.path().filename().string().find(".tmp-") == std::string::npos)
                n += e.file_size();
        return n;
    };
    {
        auto archive = open_archive(file, true);
        CHECK(entries_in(out) == 2); // the temp archive and the work directory
        for (const auto& b : image.blobs()) {
            CAPTURE(b.digest.str());
            auto reader = run(source.get_blob("library/alpine", b));
            REQUIRE(reader.has_value());
            auto session = run(archive->start_upload("library/alpine", b.digest, std::nullopt));
            REQUIRE(session.has_value());
            REQUIRE(session->has_value());
            auto done = run(archive->finish_upload(**session, b, **reader));
            if (!done) FAIL_CHECK(done.error().message);
            REQUIRE(done.has_value());
            // Into the stream at once: no copy of it waits in a temp layout for finish().
            CHECK(temp_bytes() < 4096);
            CHECK(run(archive->has_blob("library/alpine", b.digest)).value());
        }
        const auto back = run(archive->get_blob("library/alpine", image.layers[0]));
        REQUIRE_FALSE(back.has_value());
        CHECK(back.error().message.find("already written into archive") != std::string::npos);
        REQUIRE(run(archive->put_manifest("library/alpine", "3.19", image)).has_value());
        REQUIRE(archive->finish().has_value());
    }
    CHECK(entries_in(out) == 1);
    const auto files = archive_files(file);
    CHECK(files.size() == 2 + 1 + 1 + 2); // manifest.json and repositories, manifest, config, two layers
    CHECK(files.at(blob_path(image.layers[0].digest)) == std::string(200000, 'a'));
    auto archive = open_archive(file, false);
    memory_registry back("dst.test");
    CHECK(
        copy(*archive, "x.test/library/alpine:3.19", back, "dst.test/library/alpine:3.19").manifest_digest ==
        image.digest);
}

TEST_CASE("the only image of an archive is found without a name") {
    temp_dir tmp;
    memory_registry source("src.test");
    const auto image = add_image(source, "library/busybox", {"a"}, "1");
    const auto file = tmp.path() / "one.tar";
    {
        auto archive = open_archive(file, true);
        copy(source, "src.test/library/busybox:1", *archive, "x.test/library/busybox:1");
        REQUIRE(archive->finish().has_value());
    }
    auto archive = open_archive(file, false);
    CHECK(run(archive->head_manifest("", "")).value()->digest == image.digest);
    CHECK(run(archive->head_manifest("", "latest")).value()->digest == image.digest);
    CHECK(run(archive->get_manifest("", "latest")).value().digest == image.digest);
}

TEST_CASE("an index, an artifact and a schema 1 manifest are refused with what to do instead") {
    temp_dir tmp;
    memory_registry source("src.test");
    const auto amd = add_image(source, "team/app", {"amd"}, {}, "linux/amd64");
    const auto arm = add_image(source, "team/app", {"arm"}, {}, "linux/arm64");
    add_index(source, "team/app", {{amd, "linux/amd64"}, {arm, "linux/arm64"}}, "v1");
    const auto file = tmp.path() / "multi.tar";
    auto archive = open_archive(file, true);
    const auto r = run(copy_image(source, image_ref("src.test/team/app:v1"), *archive,
                                  image_ref("x.test/team/app:v1"), copy_options{}));
    REQUIRE_FALSE(r.has_value());
    CAPTURE(r.error().message);
    CHECK(r.error().code == errc::unsupported);
    CHECK(r.error().message.find("team/app:v1 cannot be stored in a docker archive") != std::string::npos);
    CHECK(r.error().message.find("pick one platform (a platform filter) or write oci-archive:") !=
          std::string::npos);

    const std::string config = "{}";
    const auto config_digest = source.add_blob("team/sig", config);
    const auto artifact = source.add_manifest(
        "team/sig",
        fmt::format(R"({{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[]}})",
                    media_types::oci_manifest,
                    descriptor_json("application/vnd.example.sig", config_digest, config.size())),
        "sig");
    auto refused = run(archive->put_manifest("team/sig", "sig", artifact));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message.find("is an artifact (config application/vnd.example.sig)") !=
          std::string::npos);
    manifest schema1;
    schema1.kind = manifest_kind::schema1;
    schema1.media_type = std::string(media_types::docker_schema1);
    refused = run(archive->put_manifest("team/old", "1", schema1));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == errc::unsupported);
    CHECK(refused.error().message.find("team/old:1 cannot be stored in a docker archive: its "
                                       "application/vnd.docker.distribution.manifest.v1+json manifest") !=
          std::string::npos);
    // Not "write oci-archive:": no bundle can hold it.
    CHECK(refused.error().message.find("is Docker schema 1") != std::string::npos);
    CHECK(refused.error().message.find("copy it between registries") != std::string::npos);
    CHECK(refused.error().message.find("oci-archive: instead") == std::string::npos);
    REQUIRE(archive->finish().has_value());
    auto back = open_archive(file, false);
    CHECK(back->images().empty());
}

TEST_CASE("bad docker archives are refused at open, naming the archive and the entry") {
    temp_dir tmp;
    const std::string config = R"({"rootfs":{"type":"layers","diff_ids":[]}})";
    const std::string layer = "layer bytes";
    const auto config_entry = tar_entry_bytes("c.json", '0', config);
    const auto layer_entry = tar_entry_bytes("l.tar", '0', layer);
    const auto index = [](const std::string& json) { return tar_entry_bytes("manifest.json", '0', json); };
    struct row {
        std::string name;
        std::string bytes;
        std::string expected;
    };
    const std::vector<row> rows{
        {"no manifest.json", config_entry + tar_end(), "not a docker archive: it has no manifest.json"},
        {"not json", index("[{") + tar_end(), "manifest.json: not valid JSON"},
        {"not an array", index("{}") + tar_end(), "not a JSON array of images"},
        {"missing layer",
         config_entry + index(R"([{"Config":"c.json","RepoTags":["a:1"],"Layers":["l.tar"]}])") + tar_end(),
         "manifest.json entry [0] (a:1) names l.tar, which the archive lacks"},
        {"escaping layer name",
         config_entry + index(R"([{"Config":"c.json","RepoTags":["a:1"],"Layers":["../../etc/passwd"]}])") +
             tar_end(),
         "[0].Layers[0]"},
        {"layers not an array", index(R"([{"Config":"c.json","Layers":"l.tar"}])") + tar_end(),
         "[0].Layers is missing or not an array"},
        {"bad RepoTag", index(R"([{"Config":"c.json","RepoTags":["a@sha256:00"],"Layers":[]}])") + tar_end(),
         "[0].RepoTags[0] \"a@sha256:00\" is not a NAME:TAG reference"},
        {"stored manifest missing",
         config_entry + layer_entry +
             index(R"([{"Config":"c.json","Layers":["l.tar"],"io.github.syncer.manifest":"m.json"}])") +
             tar_end(),
         "names m.json, which the archive lacks"},
        {"stored manifest of another image",
         config_entry + layer_entry +
             tar_entry_bytes("m.json", '0', R"({"schemaVersion":2,"manifests":[]})") +
             index(R"([{"Config":"c.json","Layers":["l.tar"],"io.github.syncer.manifest":"m.json"}])") +
             tar_end(),
         "manifest m.json does not describe the entry's config and 1 layers"},
        {"escaping entry", tar_entry_bytes("../outside", '0', "x") + tar_end(), "entry \"../outside\""},
        // docker's legacy `<id>/layer.tar` links are passed over, never followed or created.
        {"layer named by a symlink",
         config_entry + tar_entry_bytes("x/layer.tar", '2', "", "/etc/passwd") +
             index(R"([{"Config":"c.json","Layers":["x/layer.tar"]}])") + tar_end(),
         "names x/layer.tar, which the archive lacks"},
    };
    const auto spool = tmp.path() / "spool";
    fs::create_directories(spool);
    for (const auto& r : rows) {
        CAPTURE(r.name);
        const auto file = tmp.write(r.name + ".tar", r.bytes);
        const auto opened = docker_archive_registry::open(file, docker_archive_options{false, spool});
        REQUIRE_FALSE(opened.has_value());
        CAPTURE(opened.error().message);
        CHECK(opened.error().code == errc::invalid_archive);
        CHECK(opened.error().message.find(file) != std::string::npos);
        CHECK(opened.error().message.find(r.expected) != std::string::npos);
        CHECK(entries_in(spool) == 0);
        CHECK_FALSE(fs::exists(tmp.path() / "outside"));
    }
}

TEST_CASE("an archive without syncer's manifest reads as the Docker schema 2 manifest of its files") {
    temp_dir tmp;
    const std::string config = R"({"rootfs":{"type":"layers","diff_ids":[]}})";
    const std::string layer = "layer bytes";
    const auto file =
        tmp.write("docker.tar",
                  tar_entry_bytes("c.json", '0', config) + tar_entry_bytes("abc/layer.tar", '0', layer) +
                      tar_entry_bytes(
                          "manifest.json", '0',
                          R"([{"Config":"c.json","RepoTags":["team/app:v1"],"Layers":["abc/layer.tar"]}])") +
                      tar_end());
    const auto expected = fmt::format(
        R"({{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
        R"("config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"{}"}},)"
        R"("layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{},"digest":"{}"}}]}})",
        config.size(), digest_of(config).str(), layer.size(), digest_of(layer).str());
    auto archive = open_archive(file, false);
    memory_registry back("dst.test");
    CHECK(copy(*archive, "x.test/team/app:v1", back, "dst.test/team/app:v1").manifest_digest ==
          digest_of(expected));
    CHECK(back.has_manifest("team/app", digest_of(expected).str()));
}

TEST_CASE("skopeo 1.9.3 reads what syncer writes, and syncer reads what skopeo writes") {
    if (::system("skopeo --version >/dev/null 2>&1") != 0) {
        MESSAGE("skopeo is not installed: interop not checked");
        return;
    }
    temp_dir tmp;
    memory_registry source("src.test");
    const auto image = add_real_image(source, "library/hello", "hello.txt", "1");
    const auto ours = tmp.path() / "ours.tar";
    {
        auto archive = open_archive(ours, true);
        copy(source, "src.test/library/hello:1", *archive, "x.test/library/hello:1");
        REQUIRE(archive->finish().has_value());
    }
    // skopeo builds its own manifest from the files, naming layers by diff ID (it decompresses the gzip'd
    // layer syncer stored as pulled), and copies them out checking them.
    CHECK(run(open_archive(ours, false)->head_manifest("library/hello", "1")).value()->digest ==
          image.digest);
    const auto diff_id = digest_of(tar_entry_bytes("hello.txt", '0', "hello from hello.txt\n") + tar_end());
    const auto inspected =
        run_command(fmt::format("skopeo inspect docker-archive:{}:library/hello:1", ours.string()));
    CAPTURE(inspected);
    CHECK(inspected.find(diff_id.str()) != std::string::npos);
    CHECK(run_command(fmt::format("skopeo copy -q docker-archive:{}:library/hello:1 oci:{}:copy",
                                  ours.string(), (tmp.path() / "skopeo-out").string())) == "");

    // skopeo writes from an OCI layout syncer wrote; syncer reads skopeo's archive as skopeo reads it.
    const auto layout_dir = tmp.path() / "layout";
    {
        auto layout = oci_layout_registry::open(layout_dir, oci_layout_options{layout_naming::bundle, true});
        REQUIRE(layout.has_value());
        copy(source, "src.test/library/hello:1", **layout, "x.test/library/hello:1");
        REQUIRE((*layout)->finish().has_value());
    }
    const auto theirs = tmp.path() / "theirs.tar";
    CHECK(run_command(fmt::format("skopeo copy -q oci:{}:library/hello:1 docker-archive:{}:library/hello:1",
                                  layout_dir.string(), theirs.string())) == "");
    const auto raw = run_command(fmt::format("skopeo inspect --raw docker-archive:{}", theirs.string()));
    auto archive = open_archive(theirs, false);
    memory_registry back("dst.test");
    const auto copied = copy(*archive, "x.test/library/hello:1", back, "dst.test/library/hello:1");
    CHECK(copied.manifest_digest == digest_of(raw));
    CHECK(back.has_manifest("library/hello", digest_of(raw).str()));
    // skopeo stored the layer uncompressed: syncer serves that file, whose digest is the diff ID.
    const auto read_back = run(back.get_manifest("library/hello", digest_of(raw).str()));
    REQUIRE(read_back.has_value());
    REQUIRE(read_back->layers.size() == 1);
    CHECK(read_back->layers[0].digest == diff_id);
}
