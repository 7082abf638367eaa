#include "libregistry/core/manifest.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

using namespace libregistry;

namespace {

std::string fixture(const std::string& name) {
    std::ifstream in(std::string(SYNCER_FIXTURES_DIR) + "/manifests/" + name, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "missing fixture " << name);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

manifest parse_fixture(const std::string& name, std::string_view content_type = {}) {
    auto m = parse_manifest(fixture(name), content_type);
    REQUIRE_MESSAGE(m.has_value(), (m ? std::string{} : m.error().message));
    return std::move(*m);
}

std::string sha(std::string_view seed) {
    return digest_of(seed).str();
}

const std::string config_digest = sha("config");
const std::string image_body =
    R"({"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" + config_digest +
    R"(","size":2},"layers":[]})";

} // namespace

TEST_CASE("parse_manifest: fixtures") {
    struct fixture_case {
        std::string file;
        std::string media_type;
        manifest_kind kind;
        std::string config_media_type; // "" when there is no config
        std::size_t layers;
        std::size_t manifests;
        std::string artifact_type;
        bool has_subject;
    };
    const fixture_case cases[] = {
        {"docker-v2-manifest.json", "application/vnd.docker.distribution.manifest.v2+json",
         manifest_kind::image, "application/vnd.docker.container.image.v1+json", 3, 0, "", false},
        {"docker-manifest-list.json", "application/vnd.docker.distribution.manifest.list.v2+json",
         manifest_kind::index, "", 0, 4, "", false},
        {"oci-manifest.json", "application/vnd.oci.image.manifest.v1+json", manifest_kind::image,
         "application/vnd.oci.image.config.v1+json", 4, 0, "", false},
        {"oci-index.json", "application/vnd.oci.image.index.v1+json", manifest_kind::index, "", 0, 4, "",
         false},
        {"oci-nested-index.json", "application/vnd.oci.image.index.v1+json", manifest_kind::index, "", 0, 3,
         "", false},
        {"oci-artifact.json", "application/vnd.oci.image.manifest.v1+json", manifest_kind::image,
         "application/vnd.oci.empty.v1+json", 1, 0, "application/vnd.example.sbom.v1+json", true},
        {"docker-schema1-signed.json", "application/vnd.docker.distribution.manifest.v1+prettyjws",
         manifest_kind::schema1, "", 3, 0, "", false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.file);
        const auto bytes = fixture(c.file);
        const auto m = parse_fixture(c.file);
        CHECK(m.media_type == c.media_type);
        CHECK(m.kind == c.kind);
        CHECK(m.bytes == bytes);
        // A signed schema 1 manifest is named by its payload (see the schema 1 test below).
        if (c.media_type != media_types::docker_schema1_signed) CHECK(m.digest == digest_of(bytes));
        CHECK((m.config ? m.config->media_type : std::string{}) == c.config_media_type);
        CHECK(m.layers.size() == c.layers);
        CHECK(m.manifests.size() == c.manifests);
        CHECK(m.artifact_type == c.artifact_type);
        CHECK(m.subject.has_value() == c.has_subject);

        const auto d = m.as_descriptor();
        CHECK(d.media_type == c.media_type);
        CHECK(d.digest == m.digest);
        CHECK(d.size == static_cast<std::int64_t>(bytes.size()));
        CHECK(d.artifact_type == c.artifact_type);
    }
}

TEST_CASE("parse_manifest keeps the exact bytes, whitespace included") {
    const std::string variants[] = {
        image_body,
        "  \n" + image_body + "\n\n",
        "{ \"layers\" : [ ] ,\r\n\t\"config\":{\"size\":2,\"digest\":\"" + config_digest +
            "\",\"mediaType\":\"application/vnd.oci.image.config.v1+json\"}}",
    };
    for (const auto& bytes : variants) {
        CAPTURE(bytes);
        const auto m = parse_manifest(bytes);
        REQUIRE(m.has_value());
        CHECK(m->bytes == bytes);
        CHECK(m->digest == digest_of(bytes));
    }
    CHECK(parse_manifest(variants[0])->digest != parse_manifest(variants[1])->digest);
}

TEST_CASE("image manifest descriptors and blobs()") {
    const auto docker = parse_fixture("docker-v2-manifest.json");
    REQUIRE(docker.config);
    CHECK(docker.config->digest.str() == sha("config"));
    CHECK(docker.config->size == 1472);
    CHECK(docker.layers[0].size == 29533422);
    CHECK(docker.layers[2].size == 1661645893);
    REQUIRE(docker.layers[2].urls.size() == 1);
    CHECK(docker.layers[2].urls[0].starts_with("https://mcr.microsoft.com/"));
    const auto docker_blobs = docker.blobs();
    REQUIRE(docker_blobs.size() == 3);
    CHECK(docker_blobs[0].digest == docker.config->digest);
    CHECK(docker_blobs[1].digest == docker.layers[0].digest);
    CHECK(docker_blobs[2].digest == docker.layers[1].digest);

    // oci-manifest.json repeats its first layer and has a nondistributable one.
    const auto oci = parse_fixture("oci-manifest.json");
    const auto oci_blobs = oci.blobs();
    REQUIRE(oci_blobs.size() == 3);
    CHECK(oci_blobs[0].media_type == "application/vnd.oci.image.config.v1+json");
    CHECK(oci_blobs[1].digest.str() == sha("l1"));
    CHECK(oci_blobs[2].digest.str() == sha("l2"));
    CHECK(oci_blobs[2].media_type == "application/vnd.oci.image.layer.v1.tar+zstd");

    CHECK(parse_fixture("oci-index.json").blobs().empty());
}

TEST_CASE("OCI artifact: any config type, artifactType and subject") {
    const auto m = parse_fixture("oci-artifact.json");
    REQUIRE(m.config);
    CHECK(m.config->media_type == media_types::oci_empty_json);
    CHECK(m.config->digest == digest_of("{}"));
    CHECK(m.config->size == 2);
    CHECK(m.layers[0].media_type == "application/spdx+json");
    REQUIRE(m.subject);
    CHECK(m.subject->digest.str() == sha("sub"));
    CHECK(m.subject->size == 1021);
    CHECK(m.artifact_type == "application/vnd.example.sbom.v1+json");
    CHECK(m.blobs().size() == 2);

    // A config of a type syncer has never heard of is still just a blob.
    const auto custom = parse_manifest(R"({"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                                       R"("config":{"mediaType":"application/vnd.cncf.helm.config.v1+json",)"
                                       R"("digest":")" +
                                       config_digest + R"(","size":117},"layers":[]})");
    REQUIRE(custom.has_value());
    CHECK(custom->config->media_type == "application/vnd.cncf.helm.config.v1+json");
    CHECK(custom->layers.empty());
}

TEST_CASE("index entries") {
    const auto oci = parse_fixture("oci-index.json");
    REQUIRE(oci.manifests.size() == 4);
    REQUIRE(oci.manifests[0].platform);
    CHECK(oci.manifests[0].platform->str() == "linux/amd64");
    CHECK(oci.manifests[1].platform->str() == "linux/arm64/v8");
    CHECK(oci.manifests[2].platform->str() == "linux/arm/v7");
    CHECK_FALSE(oci.manifests[3].platform);
    CHECK(oci.manifests[3].digest.str() == sha("att"));
    CHECK(oci.manifests[3].size == 840);

    const auto docker = parse_fixture("docker-manifest-list.json");
    REQUIRE(docker.manifests[3].platform);
    CHECK(docker.manifests[3].platform->os == "windows");
    CHECK(docker.manifests[3].platform->os_version == "10.0.20348.2340");
    CHECK(docker.manifests[3].media_type == media_types::docker_manifest);

    const auto nested = parse_fixture("oci-nested-index.json");
    CHECK(kind_of(nested.manifests[0].media_type) == manifest_kind::index);
    CHECK_FALSE(nested.manifests[0].platform);
    CHECK(kind_of(nested.manifests[1].media_type) == manifest_kind::image);
    CHECK(kind_of(nested.manifests[2].media_type) == manifest_kind::index);
}

TEST_CASE("schema 1: fsLayers deduplicated in order, size unknown") {
    const auto m = parse_fixture("docker-schema1-signed.json");
    CHECK_FALSE(m.config);
    REQUIRE(m.layers.size() == 3);
    CHECK(m.layers[0].digest.str() ==
          "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4");
    CHECK(m.layers[1].digest.str() == sha("s1a"));
    CHECK(m.layers[2].digest.str() == sha("s1b"));
    for (const auto& layer : m.layers)
        CHECK(layer.size == -1);
    CHECK(m.blobs().size() == 3);
}

// Regression: `syncer inspect` printed the digest of the signed bytes while registries (and `syncer digest`,
// which reads Docker-Content-Digest) name a signed schema 1 manifest by its payload without the signatures.
TEST_CASE("schema 1: a signed manifest's digest is its payload's, as registries compute it") {
    const auto bytes = fixture("docker-schema1-signed.json");
    const auto m = parse_fixture("docker-schema1-signed.json");
    const auto cut = bytes.find(",\n   \"signatures\"");
    REQUIRE(cut == 1800); // the fixture's formatLength
    CHECK(m.digest == digest_of(bytes.substr(0, cut) + "\n}"));
    CHECK(m.digest.str() == "sha256:a1609962d1e1c5ed508f8577d9ac90fdc640b09ac43ebd58c0c69f43a7b23521");
    CHECK(m.bytes == bytes); // copied unchanged all the same
    CHECK(m.as_descriptor().digest == m.digest);

    // An unsigned schema 1 manifest has no signatures to leave out.
    const std::string unsigned_body =
        R"({"schemaVersion":1,"fsLayers":[{"blobSum":")" + sha("l1") + R"("}]})";
    CHECK(parse_manifest(unsigned_body, "").value().digest == digest_of(unsigned_body));

    // Signatures that do not say where the payload ends make the manifest invalid, naming the field.
    const std::pair<std::string, std::string> bad[] = {
        {R"("signatures":[{"signature":"x","protected":"y"}])",
         "signatures[0].protected: not a base64url JSON object"},
        {R"("signatures":[{"signature":"x"}])", "signatures[0].protected: missing"},
        {R"("signatures":{})", "signatures: expected an array, got an object"},
        {R"("signatures":[])", "signatures: empty"},
        // {"formatLength":999,"formatTail":"fQ"}
        {R"("signatures":[{"protected":"eyJmb3JtYXRMZW5ndGgiOjk5OSwiZm9ybWF0VGFpbCI6ImZRIn0"}])",
         "signatures[0].protected: formatLength or formatTail does not fit the manifest"},
        // {"formatTail":"fQ"}
        {R"("signatures":[{"protected":"eyJmb3JtYXRUYWlsIjoiZlEifQ"}])",
         "signatures[0].protected: has no formatLength and formatTail"},
    };
    for (const auto& [signatures, message] : bad) {
        const auto body = R"({"schemaVersion":1,"fsLayers":[],)" + signatures + "}";
        CAPTURE(body);
        const auto parsed = parse_manifest(body, "");
        REQUIRE(parsed.has_error());
        CHECK(parsed.error().code == errc::invalid_manifest);
        CHECK(parsed.error().message == "invalid manifest: " + message);
    }
}

TEST_CASE("media type: body, then Content-Type, then the fields present") {
    const std::string entry = R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                              sha("amd64") + R"(","size":1})";
    const std::string index_body = R"({"schemaVersion":2,"manifests":[)" + entry + "]}";
    const std::string schema1_body = R"({"schemaVersion":1,"fsLayers":[{"blobSum":")" + sha("l1") + R"("}]})";
    const std::string schema1_signed_body =
        // protected: {"formatLength":32,"formatTail":"fQ"}
        R"({"schemaVersion":1,"fsLayers":[],"signatures":[{"signature":"x","protected":)"
        R"("eyJmb3JtYXRMZW5ndGgiOjMyLCJmb3JtYXRUYWlsIjoiZlEifQ"}]})";
    const std::string docker_body =
        R"({"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)" + image_body.substr(1);
    struct type_case {
        std::string body;
        std::string content_type;
        std::string media_type;
    };
    const type_case cases[] = {
        {docker_body, "", "application/vnd.docker.distribution.manifest.v2+json"},
        {docker_body, "application/vnd.oci.image.manifest.v1+json",
         "application/vnd.docker.distribution.manifest.v2+json"},
        {image_body, "application/vnd.docker.distribution.manifest.v2+json; charset=utf-8",
         "application/vnd.docker.distribution.manifest.v2+json"},
        {image_body, "", "application/vnd.oci.image.manifest.v1+json"},
        {image_body, "application/json", "application/vnd.oci.image.manifest.v1+json"},
        {index_body, "", "application/vnd.oci.image.index.v1+json"},
        {index_body, "application/vnd.docker.distribution.manifest.list.v2+json",
         "application/vnd.docker.distribution.manifest.list.v2+json"},
        {index_body, "text/plain; charset=utf-8", "application/vnd.oci.image.index.v1+json"},
        {schema1_body, "", "application/vnd.docker.distribution.manifest.v1+json"},
        {schema1_signed_body, "", "application/vnd.docker.distribution.manifest.v1+prettyjws"},
        {schema1_body, "application/vnd.docker.distribution.manifest.v1+prettyjws",
         "application/vnd.docker.distribution.manifest.v1+prettyjws"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.body);
        CAPTURE(c.content_type);
        const auto m = parse_manifest(c.body, c.content_type);
        REQUIRE_MESSAGE(m.has_value(), (m ? std::string{} : m.error().message));
        CHECK(m->media_type == c.media_type);
        CHECK(m->kind == kind_of(c.media_type));
    }
}

TEST_CASE("parse_manifest: invalid fixtures") {
    struct invalid_fixture {
        std::string file;
        errc code;
        std::string message;
    };
    const invalid_fixture cases[] = {
        {"invalid-bad-digest.json", errc::invalid_manifest,
         R"(invalid manifest: layers[2].digest: invalid digest "sha256:xyz": character 'x' at position 7 is not a hex digit)"},
        {"invalid-missing-config.json", errc::invalid_manifest, "invalid manifest: config: missing"},
        {"invalid-not-json.json", errc::invalid_manifest, "invalid manifest: not valid JSON at byte 1: "},
        {"invalid-wrong-types.json", errc::invalid_manifest,
         "invalid manifest: manifests[1].size: expected a non-negative integer, got a string"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.file);
        const auto m = parse_manifest(fixture(c.file));
        REQUIRE(m.has_error());
        CHECK(m.error().code == c.code);
        CHECK_MESSAGE(m.error().message.starts_with(c.message), m.error().message);
    }
}

TEST_CASE("parse_manifest: invalid bodies name the JSON path") {
    const auto d = config_digest;
    const std::string oci = R"("mediaType":"application/vnd.oci.image.manifest.v1+json")";
    const std::string index = R"("mediaType":"application/vnd.oci.image.index.v1+json")";
    const std::string layer_type = R"("mediaType":"application/vnd.oci.image.layer.v1.tar+gzip")";
    const std::string config = R"("config":{"mediaType":"a/b","digest":")" + d + R"(","size":1})";
    struct invalid_case {
        std::string body;
        errc code;
        std::string message;
    };
    const invalid_case cases[] = {
        {"", errc::invalid_manifest, "invalid manifest: not valid JSON at byte 1: "},
        {"{", errc::invalid_manifest, "invalid manifest: not valid JSON at byte 2: "},
        {R"({"a":1,})", errc::invalid_manifest, "invalid manifest: not valid JSON at byte 8: "},
        {"[]", errc::invalid_manifest, "invalid manifest: expected a JSON object, got an array"},
        {R"("text")", errc::invalid_manifest, "invalid manifest: expected a JSON object, got a string"},
        {"{}", errc::unsupported_media_type, "unsupported manifest: no mediaType in the body"},
        {R"({"mediaType":"application/vnd.oci.image.config.v1+json"})", errc::unsupported_media_type,
         R"(unsupported manifest media type "application/vnd.oci.image.config.v1+json")"},
        {R"({"mediaType":"application/vnd.oci.artifact.manifest.v1+json","blobs":[]})",
         errc::unsupported_media_type, R"(unsupported manifest media type "application/vnd.oci.artifact)"},
        {R"({"mediaType":7})", errc::invalid_manifest,
         "invalid manifest: mediaType: expected a string, got an integer"},
        {"{" + oci + R"(,"schemaVersion":"2",)" + config + R"(,"layers":[]})", errc::invalid_manifest,
         "invalid manifest: schemaVersion: expected an integer, got a string"},
        {"{" + oci + R"(,"schemaVersion":1,)" + config + R"(,"layers":[]})", errc::invalid_manifest,
         "invalid manifest: schemaVersion: expected 2 for application/vnd.oci.image.manifest.v1+json, got 1"},
        {"{" + oci + R"(,"layers":[]})", errc::invalid_manifest, "invalid manifest: config: missing"},
        {"{" + oci + R"(,"config":null,"layers":[]})", errc::invalid_manifest,
         "invalid manifest: config: expected an object, got null"},
        {"{" + oci + "," + config + "}", errc::invalid_manifest, "invalid manifest: layers: missing"},
        {"{" + oci + "," + config + R"(,"layers":{}})", errc::invalid_manifest,
         "invalid manifest: layers: expected an array, got an object"},
        {"{" + oci + "," + config + R"(,"layers":[7]})", errc::invalid_manifest,
         "invalid manifest: layers[0]: expected an object, got an integer"},
        {"{" + oci + "," + config + R"(,"layers":[{"digest":")" + d + R"(","size":1}]})",
         errc::invalid_manifest, "invalid manifest: layers[0].mediaType: missing"},
        {"{" + oci + "," + config + R"(,"layers":[{)" + layer_type + R"(,"size":1}]})",
         errc::invalid_manifest, "invalid manifest: layers[0].digest: missing"},
        {"{" + oci + "," + config + R"(,"layers":[{)" + layer_type + R"(,"digest":")" + d + R"("}]})",
         errc::invalid_manifest, "invalid manifest: layers[0].size: missing"},
        {"{" + oci + "," + config + R"(,"layers":[{)" + layer_type + R"(,"digest":")" + d +
             R"(","size":-1}]})",
         errc::invalid_manifest, "invalid manifest: layers[0].size: negative (-1)"},
        {"{" + oci + "," + config + R"(,"layers":[{)" + layer_type + R"(,"digest":")" + d +
             R"(","size":1.5}]})",
         errc::invalid_manifest,
         "invalid manifest: layers[0].size: expected a non-negative integer, got a floating-point number"},
        {"{" + oci + "," + config + R"(,"layers":[{)" + layer_type + R"(,"digest":")" + d +
             R"(","size":18446744073709551615}]})",
         errc::invalid_manifest, "invalid manifest: layers[0].size: larger than a 64-bit signed integer"},
        {"{" + oci + "," + config + R"(,"layers":[{)" + layer_type + R"(,"digest":5,"size":1}]})",
         errc::invalid_manifest, "invalid manifest: layers[0].digest: expected a string, got an integer"},
        {"{" + oci + "," + config + R"(,"layers":[{)" + layer_type + R"(,"digest":")" + d +
             R"(","size":1,"urls":"x"}]})",
         errc::invalid_manifest, "invalid manifest: layers[0].urls: expected an array, got a string"},
        {"{" + oci + "," + config + R"(,"layers":[{)" + layer_type + R"(,"digest":")" + d +
             R"(","size":1,"urls":["x",1]}]})",
         errc::invalid_manifest, "invalid manifest: layers[0].urls[1]: expected a string, got an integer"},
        {"{" + oci + R"(,"config":{"mediaType":"a/b","digest":"md5:00","size":1},"layers":[]})",
         errc::invalid_manifest,
         R"(invalid manifest: config.digest: invalid digest "md5:00": unsupported algorithm)"},
        {"{" + oci + "," + config + R"(,"layers":[],"subject":{"mediaType":"a/b","size":1}})",
         errc::invalid_manifest, "invalid manifest: subject.digest: missing"},
        {"{" + oci + "," + config + R"(,"layers":[],"artifactType":["x"]})", errc::invalid_manifest,
         "invalid manifest: artifactType: expected a string, got an array"},
        {"{" + index + "}", errc::invalid_manifest, "invalid manifest: manifests: missing"},
        {"{" + index + R"(,"manifests":[{"mediaType":"a/b","digest":")" + d +
             R"(","size":1,"platform":{"os":"linux"}}]})",
         errc::invalid_manifest, "invalid manifest: manifests[0].platform.architecture: missing"},
        {"{" + index + R"(,"manifests":[{"mediaType":"a/b","digest":")" + d +
             R"(","size":1,"platform":{"os":"linux","architecture":"arm","variant":7}}]})",
         errc::invalid_manifest,
         "invalid manifest: manifests[0].platform.variant: expected a string, got an integer"},
        {"{" + index + R"(,"manifests":[{"mediaType":"a/b","digest":")" + d +
             R"(","size":1,"platform":"linux"}]})",
         errc::invalid_manifest, "invalid manifest: manifests[0].platform: expected an object, got a string"},
        {R"({"schemaVersion":1,"fsLayers":[{"blobSum":"sha256:abc"}]})", errc::invalid_manifest,
         R"(invalid manifest: fsLayers[0].blobSum: invalid digest "sha256:abc")"},
        {R"({"schemaVersion":1,"fsLayers":[{}]})", errc::invalid_manifest,
         "invalid manifest: fsLayers[0].blobSum: missing"},
        {R"({"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"})",
         errc::invalid_manifest, "invalid manifest: fsLayers: missing"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.body);
        const auto m = parse_manifest(c.body);
        REQUIRE(m.has_error());
        CHECK(m.error().code == c.code);
        CHECK_MESSAGE(m.error().message.starts_with(c.message), m.error().message);
    }
}

TEST_CASE("parse_manifest: size limit") {
    std::string padded = image_body;
    padded.append(max_manifest_size - padded.size(), ' ');
    CHECK(parse_manifest(padded).has_value());
    padded += ' ';
    const auto m = parse_manifest(padded);
    REQUIRE(m.has_error());
    CHECK(m.error().code == errc::too_large);
    CHECK(m.error().message == "manifest is 4194305 bytes, over the limit of 4194304 bytes");
}

TEST_CASE("filter_index: keeps matching entries in order, verbatim") {
    using ordered = nlohmann::ordered_json;
    const auto source = parse_fixture("oci-index.json");
    const auto source_json = ordered::parse(source.bytes);

    const auto filtered =
        filter_index(source, {*parse_platform("linux/arm64"), *parse_platform("linux/amd64")});
    REQUIRE_MESSAGE(filtered.has_value(), (filtered ? std::string{} : filtered.error().message));
    CHECK(filtered->kind == manifest_kind::index);
    CHECK(filtered->media_type == source.media_type);
    CHECK(filtered->digest == digest_of(filtered->bytes));
    CHECK(filtered->digest != source.digest);
    REQUIRE(filtered->manifests.size() == 2);
    CHECK(filtered->manifests[0].digest == source.manifests[0].digest);
    CHECK(filtered->manifests[1].digest == source.manifests[1].digest);

    const auto result_json = ordered::parse(filtered->bytes);
    CHECK(result_json["manifests"][0].dump() == source_json["manifests"][0].dump());
    CHECK(result_json["manifests"][1].dump() == source_json["manifests"][1].dump());
    CHECK(result_json["annotations"] == source_json["annotations"]);
    CHECK(result_json["schemaVersion"] == 2);
    // Top-level keys keep their order; annotations of an entry too ("z-last" stays last).
    std::vector<std::string> keys;
    for (const auto& item : result_json.items())
        keys.push_back(item.key());
    CHECK(keys == std::vector<std::string>{"schemaVersion", "mediaType", "manifests", "annotations"});
    CHECK(filtered->bytes.find(R"("org.opencontainers.image.ref.name":"amd64","z-last":"kept in order")") !=
          std::string::npos);
}

TEST_CASE("filter_index: variants, aliases and Docker lists") {
    struct filter_case {
        std::string file;
        std::vector<std::string> platforms;
        std::vector<std::string> expected; // platform strings of kept entries, in order
    };
    const filter_case cases[] = {
        {"oci-index.json", {"linux/arm/v7"}, {"linux/arm/v7"}},
        {"oci-index.json", {"linux/arm"}, {"linux/arm/v7"}},
        {"oci-index.json", {"linux/aarch64"}, {"linux/arm64/v8"}},
        {"oci-index.json", {"linux/x86_64", "linux/arm/v7"}, {"linux/amd64", "linux/arm/v7"}},
        {"docker-manifest-list.json", {"windows/amd64"}, {"windows/amd64"}},
        {"docker-manifest-list.json", {"linux/amd64"}, {"linux/amd64"}},
        {"oci-nested-index.json", {"linux/amd64"}, {"linux/amd64"}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.file);
        CAPTURE(c.platforms.front());
        const auto source = parse_fixture(c.file);
        std::vector<platform> filters;
        for (const auto& text : c.platforms)
            filters.push_back(*parse_platform(text));
        const auto filtered = filter_index(source, filters);
        REQUIRE_MESSAGE(filtered.has_value(), (filtered ? std::string{} : filtered.error().message));
        CHECK(filtered->media_type == source.media_type);
        std::vector<std::string> kept;
        for (const auto& entry : filtered->manifests)
            kept.push_back(entry.platform->str());
        CHECK(kept == c.expected);
    }
}

TEST_CASE("filter_index: media type from Content-Type survives re-serialisation") {
    const std::string body = R"({"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":")" +
                             sha("amd64") +
                             R"(","size":1,"platform":{"os":"linux","architecture":"amd64"}}]})";
    const auto source = parse_manifest(body, media_types::docker_manifest_list);
    REQUIRE(source.has_value());
    const auto filtered = filter_index(*source, {*parse_platform("linux/amd64")});
    REQUIRE(filtered.has_value());
    CHECK(filtered->media_type == media_types::docker_manifest_list);
}

TEST_CASE("filter_index: errors") {
    const auto index = parse_fixture("oci-index.json");
    const auto none = filter_index(index, {*parse_platform("linux/s390x")});
    REQUIRE(none.has_error());
    // issue 10: a mismatch was invalid_argument, like a usage error; it has a class of its own now.
    CHECK(none.error().code == errc::platform_mismatch);
    CHECK_FALSE(none.error().retryable());
    CHECK(none.error().message ==
          "no entry of index " + index.digest.str() +
              " matches platform(s) linux/s390x; available: linux/amd64, linux/arm64/v8, "
              "linux/arm/v7");

    const auto two = filter_index(index, {*parse_platform("linux/s390x"), *parse_platform("linux/ppc64le")});
    REQUIRE(two.has_error());
    CHECK(two.error().message.find("matches platform(s) linux/s390x, linux/ppc64le;") != std::string::npos);

    const auto empty = filter_index(index, {});
    REQUIRE(empty.has_error());
    CHECK(empty.error().code == errc::invalid_argument);
    CHECK(empty.error().message == "cannot filter index " + index.digest.str() + ": no platforms given");

    const auto image = parse_fixture("oci-manifest.json");
    const auto not_index = filter_index(image, {*parse_platform("linux/amd64")});
    REQUIRE(not_index.has_error());
    CHECK(not_index.error().code == errc::invalid_argument);
    CHECK(not_index.error().message.find("not an index") != std::string::npos);

    const std::string unplatformed = R"({"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
                                     R"({"mediaType":"a/b","digest":")" +
                                     sha("x") + R"(","size":1}]})";
    const auto bare = filter_index(*parse_manifest(unplatformed), {*parse_platform("linux/amd64")});
    REQUIRE(bare.has_error());
    CHECK(bare.error().code == errc::platform_mismatch);
    CHECK(bare.error().message.ends_with("available: none (no entry names a platform)"));
}

TEST_CASE("filter_index: a filter every entry matches returns the index itself, bytes and digest unchanged") {
    const auto source = parse_fixture("docker-manifest-list.json");
    std::vector<platform> every;
    for (const auto& entry : source.manifests)
        every.push_back(*entry.platform);
    const auto kept = filter_index(source, every);
    REQUIRE(kept.has_value());
    CHECK(kept->bytes == source.bytes);
    CHECK(kept->digest == source.digest);
}

TEST_CASE("nested_indexes: index entries without a platform or with a matching one, each once") {
    const auto nested = parse_fixture("oci-nested-index.json");
    const auto linux_amd64 = std::vector<platform>{*parse_platform("linux/amd64")};
    const auto found = nested_indexes(nested, linux_amd64);
    REQUIRE(found.size() == 2);
    CHECK(found[0].digest == nested.manifests[0].digest);
    CHECK(found[1].digest == nested.manifests[2].digest);
    CHECK(nested_indexes(parse_fixture("oci-index.json"), linux_amd64).empty());

    const std::string platformed = R"({"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
                                   R"({"mediaType":"application/vnd.oci.image.index.v1+json","digest":")" +
                                   sha("arm") +
                                   R"(","size":1,"platform":{"os":"linux","architecture":"arm64"}},)"
                                   R"({"mediaType":"application/vnd.oci.image.index.v1+json","digest":")" +
                                   sha("amd") +
                                   R"(","size":1,"platform":{"os":"linux","architecture":"amd64"}},)"
                                   R"({"mediaType":"application/vnd.oci.image.index.v1+json","digest":")" +
                                   sha("amd") + R"(","size":1}]})";
    const auto twice = nested_indexes(*parse_manifest(platformed), linux_amd64);
    REQUIRE(twice.size() == 1);
    CHECK(twice[0].digest.str() == sha("amd"));
}

// issue 10: the filter did not look into nested indexes, so [index (amd64, arm64), s390x] filtered to
// linux/arm64 failed with "available: linux/s390x".
TEST_CASE(
    "select_platforms: nested selections are dropped, kept verbatim, or pointed at the filtered index") {
    using ordered = nlohmann::ordered_json;
    const auto outer = parse_fixture("oci-nested-index.json");
    const auto& nested_oci = outer.manifests[0];
    const auto& nested_docker = outer.manifests[2];
    const auto linux_arm64 = std::vector<platform>{*parse_platform("linux/arm64")};
    const std::string filtered_bytes =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
        R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
        sha("arm") + R"(","size":7,"platform":{"os":"linux","architecture":"arm64"}}]})";
    const auto filtered = parse_manifest(filtered_bytes).value();

    std::map<digest, platform_selection> nested;
    nested[nested_oci.digest] = platform_selection{filtered, {"linux/amd64", "linux/arm64"}};
    nested[nested_docker.digest] = platform_selection{std::nullopt, {"windows/amd64"}};
    const auto selected = select_platforms(outer, linux_arm64, nested);
    REQUIRE(selected.has_value());
    REQUIRE(selected->index);
    const auto& index = *selected->index;
    CHECK(index.digest == digest_of(index.bytes));
    REQUIRE(index.manifests.size() == 1);
    CHECK(index.manifests[0].digest == filtered.digest);
    CHECK(index.manifests[0].size == static_cast<std::int64_t>(filtered_bytes.size()));
    CHECK(index.manifests[0].media_type == nested_oci.media_type);
    // Every other field of the entry is kept, in its place.
    const auto entry = ordered::parse(index.bytes)["manifests"][0];
    std::vector<std::string> keys;
    for (const auto& item : entry.items())
        keys.push_back(item.key());
    CHECK(keys == std::vector<std::string>{"mediaType", "digest", "size", "annotations"});
    CHECK(entry["annotations"]["org.opencontainers.image.ref.name"] == "1.2.3");
    // Platforms seen: the nested ones where their index is listed, then the outer entry's own.
    CHECK(selected->available == std::vector<std::string>{"linux/amd64", "linux/arm64", "windows/amd64"});

    // A nested index the filter left unchanged keeps its entry verbatim; with nothing else dropped, the
    // outer index is not rewritten at all.
    const std::string two = R"({"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
                            R"({"mediaType":"application/vnd.oci.image.index.v1+json","digest":")" +
                            filtered.digest.str() + R"(","size":)" + std::to_string(filtered_bytes.size()) +
                            R"(}]})";
    const auto same_outer = parse_manifest(two).value();
    std::map<digest, platform_selection> unchanged;
    unchanged[filtered.digest] = platform_selection{filtered, {"linux/arm64"}};
    const auto same = select_platforms(same_outer, linux_arm64, unchanged);
    REQUIRE(same.has_value());
    REQUIRE(same->index);
    CHECK(same->index->bytes == same_outer.bytes);

    // Nothing matched anywhere: no index, and every platform there was.
    std::map<digest, platform_selection> empty_inside;
    empty_inside[nested_oci.digest] = platform_selection{std::nullopt, {"linux/amd64", "linux/arm64"}};
    const auto none = select_platforms(outer, {*parse_platform("linux/s390x")}, empty_inside);
    REQUIRE(none.has_value());
    CHECK_FALSE(none->index);
    CHECK(none->available == std::vector<std::string>{"linux/amd64", "linux/arm64"});
    const auto e = no_platform_match(outer.digest, {*parse_platform("linux/s390x")}, none->available);
    CHECK(e.code == errc::platform_mismatch);
    CHECK(e.message == "no entry of index " + outer.digest.str() +
                           " matches platform(s) linux/s390x; available: linux/amd64, linux/arm64");
}

TEST_CASE("schema1_platform: the newest history entry's configuration, else the manifest's architecture") {
    const auto signed_legacy = parse_fixture("docker-schema1-signed.json");
    const auto p = schema1_platform(signed_legacy);
    REQUIRE(p);
    CHECK(p->str() == "linux/amd64");

    const auto with_os = parse_manifest(
        R"({"schemaVersion":1,"architecture":"amd64","fsLayers":[{"blobSum":")" + sha("l") +
        R"("}],"history":[{"v1Compatibility":"{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}"}]})");
    REQUIRE(with_os.has_value());
    CHECK(schema1_platform(*with_os)->str() == "linux/arm/v7");

    const auto nameless =
        parse_manifest(R"({"schemaVersion":1,"fsLayers":[{"blobSum":")" + sha("l") + R"("}],"history":[]})");
    REQUIRE(nameless.has_value());
    CHECK_FALSE(schema1_platform(*nameless));
    CHECK_FALSE(schema1_platform(parse_fixture("oci-manifest.json")));
}
