#include "libregistry/core/transport.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace libregistry;

namespace {

const std::string hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string dgst = "sha256:" + hex;

} // namespace

TEST_CASE("parse_image_location: registries as before") {
    for (const std::string text : {"docker://alpine:3.19", "alpine:3.19"}) {
        auto l = parse_image_location(text);
        REQUIRE(l.has_value());
        CHECK(l->transport == transport_kind::docker);
        CHECK(!l->is_storage());
        CHECK(l->ref.str() == "docker.io/library/alpine:3.19");
        CHECK(l->str() == "docker.io/library/alpine:3.19");
    }
    auto port = parse_image_location("localhost:5000/a/b@" + dgst);
    REQUIRE(port.has_value());
    CHECK(port->ref.registry == "localhost:5000");
    CHECK(port->ref.digest->str() == dgst);
}

TEST_CASE("parse_image_location: layouts and archives") {
    struct ok_case {
        std::string input;
        transport_kind transport;
        std::string path;
        std::string repository;
        std::string tag;
        bool digest;
        bool named;
    };
    const ok_case cases[] = {
        {"oci:/media/bundle", transport_kind::oci, "/media/bundle", "", "", false, false},
        {"oci:layout:latest", transport_kind::oci, "layout", "", "latest", false, false},
        {"oci:/tmp/a:library/alpine:3.19", transport_kind::oci, "/tmp/a", "library/alpine", "3.19", false,
         true},
        {"oci:/tmp/a:" + dgst.substr(0, 0) + "@" + dgst, transport_kind::oci, "/tmp/a", "", "", true, false},
        {"oci:/tmp/a:library/alpine@" + dgst, transport_kind::oci, "/tmp/a", "library/alpine", "", true,
         true},
        // The path ends at the first ':', as skopeo 1.9.3 splits it: `a:b:tag` is path a, image b:tag.
        {"oci:/tmp/a:b:tag", transport_kind::oci, "/tmp/a", "b", "tag", false, true},
        {"oci-archive:bundle.tar.zst", transport_kind::oci_archive, "bundle.tar.zst", "", "", false, false},
        {"oci-archive:b.tar:x/y:v1", transport_kind::oci_archive, "b.tar", "x/y", "v1", false, true},
        {"docker-archive:img.tar:alpine:3.19", transport_kind::docker_archive, "img.tar",
         "docker.io/library/alpine", "3.19", false, true},
        {"docker-archive:img.tar", transport_kind::docker_archive, "img.tar", "", "", false, false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.input);
        auto l = parse_image_location(c.input);
        REQUIRE(l.has_value());
        CHECK(l->transport == c.transport);
        CHECK(l->is_storage());
        CHECK(l->path == c.path);
        CHECK(l->ref.registry == storage_registry_name(c.transport, c.path));
        CHECK(l->ref.repository == c.repository);
        CHECK(l->ref.tag == c.tag);
        CHECK(l->ref.digest.has_value() == c.digest);
        CHECK(l->named == c.named);
        // str() gives text that parses to the same location.
        auto again = parse_image_location(l->str());
        REQUIRE(again.has_value());
        CHECK(again->ref == l->ref);
        CHECK(again->named == l->named);
    }
}

TEST_CASE("parse_image_location: refusals name the text") {
    const std::pair<std::string, std::string> cases[] = {
        {"oci:", R"(invalid reference "oci:": oci: needs a path: oci:DIR[:REFERENCE])"},
        {"oci-archive::x", R"(invalid reference "oci-archive::x": oci-archive: needs a path)"},
        {"oci:d:", R"(invalid reference "oci:d:": the reference after the path is empty)"},
        {"oci:d:-bad", R"(invalid reference "oci:d:-bad": "-bad" is not a tag)"},
        {"oci:d:Lib/x:1", R"(invalid reference "oci:d:Lib/x:1": "Lib/x" is not a repository path)"},
        {"oci:d:lib/x", R"(invalid reference "oci:d:lib/x": "lib/x" names a repository without a tag)"},
        {"oci:d:lib/x:1@" + dgst, "give a tag or a digest, not both"},
        {"oci:d:@sha256:12", R"(invalid reference "oci:d:@sha256:12": )"},
        {"dir:/tmp/x", R"("dir:" is a transport syncer does not have)"},
    };
    for (const auto& c : cases) {
        const auto& input = c.first;
        const auto& expected = c.second;
        CAPTURE(input);
        auto l = parse_image_location(input);
        REQUIRE_FALSE(l.has_value());
        CHECK(l.error().code == errc::invalid_reference);
        CHECK(l.error().message.find(expected) != std::string::npos);
    }
}

TEST_CASE("storage registry names round trip; hosts are not storage") {
    auto p = parse_storage_registry_name(storage_registry_name(transport_kind::oci_archive, "/m/b.tar"));
    REQUIRE(p);
    CHECK(p->first == transport_kind::oci_archive);
    CHECK(p->second == "/m/b.tar");
    CHECK(!parse_storage_registry_name("docker.io"));
    CHECK(!parse_storage_registry_name("localhost:5000"));
}
