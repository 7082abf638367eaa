#include "libregistry/core/reference.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace libregistry;

namespace {

const std::string hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string dgst = "sha256:" + hex;

} // namespace

TEST_CASE("parse_reference: valid") {
    struct valid_case {
        std::string input;
        std::string registry;
        std::string repository;
        std::string tag;
        std::string digest; // "" when none
        std::string str;
    };
    const valid_case cases[] = {
        {"ubuntu", "docker.io", "library/ubuntu", "", "", "docker.io/library/ubuntu"},
        {"ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", "", "docker.io/library/ubuntu:22.04"},
        {"user/repo:tag", "docker.io", "user/repo", "tag", "", "docker.io/user/repo:tag"},
        {"docker.io/library/busybox", "docker.io", "library/busybox", "", "", "docker.io/library/busybox"},
        {"docker.io/busybox", "docker.io", "library/busybox", "", "", "docker.io/library/busybox"},
        {"index.docker.io/x", "docker.io", "library/x", "", "", "docker.io/library/x"},
        {"index.docker.io/user/x:1", "docker.io", "user/x", "1", "", "docker.io/user/x:1"},
        {"registry-1.docker.io/library/alpine", "docker.io", "library/alpine", "", "",
         "docker.io/library/alpine"},
        {"docker://alpine:3.19", "docker.io", "library/alpine", "3.19", "", "docker.io/library/alpine:3.19"},
        {"docker://quay.io/org/repo", "quay.io", "org/repo", "", "", "quay.io/org/repo"},
        {"localhost/a", "localhost", "a", "", "", "localhost/a"},
        {"localhost:5000/a/b@" + dgst, "localhost:5000", "a/b", "", dgst, "localhost:5000/a/b@" + dgst},
        {"localhost:5000/a/b:v1", "localhost:5000", "a/b", "v1", "", "localhost:5000/a/b:v1"},
        {"quay.io/org/repo:tag@" + dgst, "quay.io", "org/repo", "tag", dgst, "quay.io/org/repo:tag@" + dgst},
        {"quay.io/org/repo", "quay.io", "org/repo", "", "", "quay.io/org/repo"},
        {"ghcr.io/a/b/c/d:latest", "ghcr.io", "a/b/c/d", "latest", "", "ghcr.io/a/b/c/d:latest"},
        {"[::1]:5000/x", "[::1]:5000", "x", "", "", "[::1]:5000/x"},
        {"[::1]/x:t", "[::1]", "x", "t", "", "[::1]/x:t"},
        {"[2001:db8::1]:443/team/app", "[2001:db8::1]:443", "team/app", "", "", "[2001:db8::1]:443/team/app"},
        {"127.0.0.1:5000/x", "127.0.0.1:5000", "x", "", "", "127.0.0.1:5000/x"},
        {"myhost:5000/x", "myhost:5000", "x", "", "", "myhost:5000/x"},
        {"Registry.Example.COM/team/app", "Registry.Example.COM", "team/app", "", "",
         "Registry.Example.COM/team/app"},
        {"my-registry.example.com:8443/a-b/c_d/e.f/g__h/i---j", "my-registry.example.com:8443",
         "a-b/c_d/e.f/g__h/i---j", "", "", "my-registry.example.com:8443/a-b/c_d/e.f/g__h/i---j"},
        {"alpine@" + dgst, "docker.io", "library/alpine", "", dgst, "docker.io/library/alpine@" + dgst},
        {"alpine:TAG_with.Dots-1", "docker.io", "library/alpine", "TAG_with.Dots-1", "",
         "docker.io/library/alpine:TAG_with.Dots-1"},
        {"alpine:_underscore", "docker.io", "library/alpine", "_underscore", "",
         "docker.io/library/alpine:_underscore"},
        {"alpine:" + std::string(128, 'a'), "docker.io", "library/alpine", std::string(128, 'a'), "",
         "docker.io/library/alpine:" + std::string(128, 'a')},
        {"localhost:5000", "docker.io", "library/localhost", "5000", "", "docker.io/library/localhost:5000"},
        {"0/1", "docker.io", "0/1", "", "", "docker.io/0/1"},
        {"example.com/" + std::string(243, 'a'), "example.com", std::string(243, 'a'), "", "",
         "example.com/" + std::string(243, 'a')},
        {std::string(237, 'a'), "docker.io", "library/" + std::string(237, 'a'), "", "",
         "docker.io/library/" + std::string(237, 'a')},
        {"a@sha512:" + std::string(128, 'f'), "docker.io", "library/a", "", "sha512:" + std::string(128, 'f'),
         "docker.io/library/a@sha512:" + std::string(128, 'f')},
    };
    for (const auto& c : cases) {
        CAPTURE(c.input);
        const auto ref = parse_reference(c.input);
        REQUIRE_MESSAGE(ref.has_value(), (ref ? std::string{} : ref.error().message));
        CHECK(ref->registry == c.registry);
        CHECK(ref->repository == c.repository);
        CHECK(ref->tag == c.tag);
        CHECK((ref->digest ? ref->digest->str() : std::string{}) == c.digest);
        CHECK(ref->str() == c.str);
        CHECK(ref->name() == c.registry + "/" + c.repository);
        // Parsing the normalised form gives the same value back.
        const auto again = parse_reference(ref->str());
        REQUIRE(again.has_value());
        CHECK(*again == *ref);
    }
}

TEST_CASE("parse_reference: invalid") {
    struct invalid_case {
        std::string input;
        std::string expected_message; // a prefix, or the whole message
    };
    const invalid_case cases[] = {
        {"", R"(invalid reference "": reference is empty)"},
        {"docker://", R"(invalid reference "docker://": reference is empty)"},
        {"docker://docker://a",
         R"(invalid reference "docker://docker://a": a reference takes no URL scheme; drop "docker://")"},
        // Other tools' transports are named, not read as a host with a bad port or as docker.io/library/oci.
        {"oci://a", R"(invalid reference "oci://a": "oci:" is a transport syncer does not have; it reads )"
                    R"(and writes registries: [docker://]HOST/REPOSITORY[:TAG|@DIGEST])"},
        {"oci:/tmp/layout",
         R"(invalid reference "oci:/tmp/layout": "oci:" is a transport syncer does not have)"},
        {"oci:layout:v1", R"(invalid reference "oci:layout:v1": "oci:" is a transport)"},
        {"dir:/tmp/x", R"(invalid reference "dir:/tmp/x": "dir:" is a transport)"},
        {"docker-archive:/tmp/x.tar",
         R"(invalid reference "docker-archive:/tmp/x.tar": "docker-archive:" is)"},
        {"oci-archive:x.tar", R"(invalid reference "oci-archive:x.tar": "oci-archive:" is a transport)"},
        {"docker-daemon:nginx:1", R"(invalid reference "docker-daemon:nginx:1": "docker-daemon:" is)"},
        {"containers-storage:nginx",
         R"(invalid reference "containers-storage:nginx": "containers-storage:")"},
        {"ocidir://x/y", R"(invalid reference "ocidir://x/y": "ocidir:" is a transport)"},
        {"docker://oci:x", R"(invalid reference "docker://oci:x": "oci:" is a transport)"},
        {"sftp://a", R"(invalid reference "sftp://a": a reference takes no URL scheme; drop "sftp://")"},
        {"Foo/bar", R"(invalid reference "Foo/bar": repository name must be lowercase)"},
        {"ubuntu/Bar:tag", R"(invalid reference "ubuntu/Bar:tag": repository name must be lowercase)"},
        {"quay.io/Org/repo", R"(invalid reference "quay.io/Org/repo": repository name must be lowercase)"},
        {"a//b", R"(invalid reference "a//b": repository name has an empty path component)"},
        {"/a", R"(invalid reference "/a": repository name has an empty path component)"},
        {"a/", R"(invalid reference "a/": repository name has an empty path component)"},
        {"quay.io/", R"(invalid reference "quay.io/": repository name has an empty path component)"},
        {"ubuntu:", R"(invalid tag "" in "ubuntu:": tag is empty)"},
        {"ubuntu:" + std::string(129, 'a'), R"(invalid tag ")" + std::string(129, 'a') + R"(" in "ubuntu:)"},
        {"ubuntu:-tag", R"(invalid tag "-tag" in "ubuntu:-tag": tag must start with a letter, digit or '_')"},
        {"ubuntu:.tag", R"(invalid tag ".tag" in "ubuntu:.tag": tag must start)"},
        {"ubuntu:ta+g", R"(invalid tag "ta+g" in "ubuntu:ta+g": character '+' is not allowed in a tag)"},
        {"ubuntu:a:b",
         R"(invalid reference "ubuntu:a:b": path component "ubuntu:a" has invalid separator ":")"},
        {"ubuntu@", R"(invalid digest "" in "ubuntu@": empty)"},
        {"ubuntu@sha256:xyz", R"(invalid digest "sha256:xyz" in "ubuntu@sha256:xyz": character 'x')"},
        {"ubuntu@md5:abc", R"(invalid digest "md5:abc" in "ubuntu@md5:abc": unsupported algorithm "md5")"},
        {"ubuntu@" + dgst + "@" + dgst, R"(invalid digest)"},
        {":tag", R"(invalid reference ":tag": repository name is empty)"},
        {"@" + dgst, R"(invalid reference "@)"},
        {"-abc", R"(invalid reference "-abc": path component "-abc" must start and end)"},
        {"abc-", R"(invalid reference "abc-": path component "abc-" must start and end)"},
        {"a..b", R"(invalid reference "a..b": path component "a..b" has invalid separator "..")"},
        {"a___b", R"(invalid reference "a___b": path component "a___b" has invalid separator "___")"},
        {"a._b", R"(invalid reference "a._b": path component "a._b" has invalid separator "._")"},
        {"a b", R"(invalid reference "a b": path component "a b" has invalid separator " ")"},
        {"quay.io:/x", R"(invalid reference "quay.io:/x": registry host "quay.io:" has an invalid port "")"},
        {"quay.io:50a0/x",
         R"(invalid reference "quay.io:50a0/x": registry host "quay.io:50a0" has an invalid port)"},
        {"-quay.io/x",
         R"(invalid reference "-quay.io/x": registry host "-quay.io" is not a valid host name)"},
        {"quay..io/x",
         R"(invalid reference "quay..io/x": registry host "quay..io" is not a valid host name)"},
        {"qu_ay.io/x",
         R"(invalid reference "qu_ay.io/x": registry host "qu_ay.io" is not a valid host name)"},
        {"[::1/x", R"(invalid reference "[::1/x": registry host "[::1" has no closing ']')"},
        {"[]:5000/x",
         R"(invalid reference "[]:5000/x": registry host "[]:5000" is not a valid IPv6 address)"},
        {"[::g]/x", R"(invalid reference "[::g]/x": registry host "[::g]" is not a valid IPv6 address)"},
        {"[::1]x/y", R"(invalid reference "[::1]x/y": registry host "[::1]x" has text after ']')"},
        {hex, R"(invalid reference ")" + hex + R"(": a 64-character hex string is an image ID)"},
        {"example.com/" + std::string(244, 'a'), R"(invalid reference "example.com/)" +
                                                     std::string(244, 'a') +
                                                     R"(": repository name is 256 characters)"},
        {std::string(238, 'a'),
         R"(invalid reference ")" + std::string(238, 'a') + R"(": repository name is 256)"},
        {"https://quay.io/x",
         R"(invalid reference "https://quay.io/x": a reference takes no URL scheme; drop "https://")"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.input);
        const auto ref = parse_reference(c.input);
        REQUIRE(ref.has_error());
        CHECK(ref.error().code == errc::invalid_reference);
        CHECK_MESSAGE(ref.error().message.starts_with(c.expected_message), ref.error().message);
    }
}

TEST_CASE("reference: identifier and api_host") {
    struct accessor_case {
        std::string input;
        std::string identifier;
        std::string api_host;
    };
    const accessor_case cases[] = {
        {"ubuntu", "latest", "registry-1.docker.io"},
        {"ubuntu:22.04", "22.04", "registry-1.docker.io"},
        {"ubuntu:22.04@" + dgst, dgst, "registry-1.docker.io"},
        {"quay.io/a/b@" + dgst, dgst, "quay.io"},
        {"localhost:5000/a:t", "t", "localhost:5000"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.input);
        const auto ref = parse_reference(c.input);
        REQUIRE(ref.has_value());
        CHECK(ref->identifier() == c.identifier);
        CHECK(ref->api_host() == c.api_host);
    }
}

TEST_CASE("parse_repository") {
    const auto ok = parse_repository("quay.io/org/repo");
    REQUIRE(ok.has_value());
    CHECK(ok->str() == "quay.io/org/repo");
    CHECK(parse_repository("ubuntu")->repository == "library/ubuntu");

    for (const auto& text : {std::string("ubuntu:22.04"), "ubuntu@" + dgst, "quay.io/a/b:t@" + dgst}) {
        CAPTURE(text);
        const auto ref = parse_repository(text);
        REQUIRE(ref.has_error());
        CHECK(ref.error().code == errc::invalid_reference);
        CHECK(ref.error().message ==
              "invalid repository \"" + text + "\": a repository name takes no tag or digest");
    }
    const auto bad = parse_repository("Foo/bar");
    REQUIRE(bad.has_error());
    CHECK(bad.error().message == R"(invalid reference "Foo/bar": repository name must be lowercase)");
}

TEST_CASE("is_valid_tag") {
    struct tag_case {
        std::string tag;
        bool valid;
    };
    const tag_case cases[] = {
        {"latest", true},
        {"1.0.0", true},
        {"_x", true},
        {"A-b.C_d", true},
        {std::string(128, 'x'), true},
        {"", false},
        {".x", false},
        {"-x", false},
        {std::string(129, 'x'), false},
        {"a/b", false},
        {"a:b", false},
        {"a@b", false},
        {"ä", false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.tag);
        CHECK(is_valid_tag(c.tag) == c.valid);
    }
}

TEST_CASE("normalize_registry") {
    struct registry_case {
        std::string input;
        std::string expected;
    };
    const registry_case cases[] = {
        {"docker.io", "docker.io"},
        {"index.docker.io", "docker.io"},
        {"registry-1.docker.io", "docker.io"},
        {"https://index.docker.io/v1/", "docker.io"},
        {"http://index.docker.io", "docker.io"},
        {"Index.Docker.IO", "docker.io"},
        {"quay.io", "quay.io"},
        {"https://quay.io/", "quay.io"},
        {"quay.io//", "quay.io"},
        {"localhost:5000", "localhost:5000"},
        {"https://localhost:5000/v2/", "localhost:5000"},
        {"Registry.Example.com", "Registry.Example.com"},
        {"[::1]:5000", "[::1]:5000"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.input);
        CHECK(normalize_registry(c.input) == c.expected);
    }
}
