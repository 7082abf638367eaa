#include "libregistry/core/platform.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

using namespace libregistry;

namespace {

platform make(std::string os, std::string arch, std::string variant = {}) {
    return platform{std::move(os), std::move(arch), std::move(variant), {}};
}

} // namespace

TEST_CASE("parse_platform: valid") {
    struct valid_case {
        std::string text;
        platform expected;
        std::string str;
    };
    const valid_case cases[] = {
        {"linux/amd64", make("linux", "amd64"), "linux/amd64"},
        {"linux/arm64/v8", make("linux", "arm64", "v8"), "linux/arm64/v8"},
        {"linux/arm/v7", make("linux", "arm", "v7"), "linux/arm/v7"},
        {"windows/amd64", make("windows", "amd64"), "windows/amd64"},
        {"Linux/AMD64", make("linux", "amd64"), "linux/amd64"},
        {"linux/x86_64", make("linux", "x86_64"), "linux/x86_64"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const auto p = parse_platform(c.text);
        REQUIRE(p.has_value());
        CHECK(*p == c.expected);
        CHECK(p->str() == c.str);
    }
}

TEST_CASE("parse_platform: invalid") {
    for (const std::string text : {"", "linux", "linux/", "/amd64", "linux//v7", "linux/arm/v7/extra",
                                   "linux/amd64/", "linux/amd 64", "linux/amd64,linux/arm64"}) {
        CAPTURE(text);
        const auto p = parse_platform(text);
        REQUIRE(p.has_error());
        CHECK(p.error().code == errc::invalid_argument);
        CHECK(p.error().message.find("invalid platform \"" + text + "\"") == 0);
        CHECK(p.error().message.find("os/arch[/variant]") != std::string::npos);
    }
}

TEST_CASE("platform_matches") {
    struct match_case {
        platform filter;
        platform candidate;
        bool expected;
    };
    const match_case cases[] = {
        {make("linux", "amd64"), make("linux", "amd64"), true},
        {make("linux", "amd64"), make("linux", "arm64"), false},
        {make("linux", "amd64"), make("windows", "amd64"), false},
        {make("linux", "x86_64"), make("linux", "amd64"), true},
        {make("linux", "amd64"), make("linux", "x86_64"), true},
        {make("linux", "aarch64"), make("linux", "arm64", "v8"), true},
        {make("linux", "arm64"), make("linux", "aarch64"), true},
        {make("linux", "arm64", "v8"), make("linux", "arm64"), true},
        {make("linux", "arm64"), make("linux", "arm64", "v8"), true},
        {make("linux", "arm64", "v8"), make("linux", "arm64", "v8"), true},
        {make("linux", "arm64", "v9"), make("linux", "arm64"), false},
        {make("linux", "arm"), make("linux", "arm", "v7"), true},
        {make("linux", "arm", "v7"), make("linux", "arm", "v7"), true},
        {make("linux", "arm", "v7"), make("linux", "arm", "v6"), false},
        {make("linux", "arm", "v7"), make("linux", "arm"), false},
        {make("linux", "amd64", "v3"), make("linux", "amd64"), false},
        {make("linux", "amd64"), make("unknown", "unknown"), false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.filter.str());
        CAPTURE(c.candidate.str());
        CHECK(platform_matches(c.filter, c.candidate) == c.expected);
    }
}

TEST_CASE("platform_matches ignores os.version") {
    auto candidate = make("windows", "amd64");
    candidate.os_version = "10.0.20348.2340";
    CHECK(platform_matches(make("windows", "amd64"), candidate));
}

TEST_CASE("platform_matches_any") {
    const std::vector<platform> filters{make("linux", "amd64"), make("linux", "arm64")};
    CHECK(platform_matches_any(filters, make("linux", "arm64", "v8")));
    CHECK(platform_matches_any(filters, make("linux", "amd64")));
    CHECK_FALSE(platform_matches_any(filters, make("linux", "s390x")));
    CHECK_FALSE(platform_matches_any({}, make("linux", "amd64")));
}

TEST_CASE("platform_of_config: what a single image says about its platform") {
    struct row {
        std::string config;
        std::optional<std::string> expected;
    };
    const std::vector<row> rows{
        {R"({"architecture":"amd64","os":"linux","rootfs":{}})", "linux/amd64"},
        {R"({"os":"linux","architecture":"arm64","variant":"v8"})", "linux/arm64/v8"},
        {R"({"os":"windows","architecture":"amd64","os.version":"10.0.20348.2340"})", "windows/amd64"},
        {R"({"architecture":"unknown","os":"unknown"})", "unknown/unknown"},
        {"{}", std::nullopt}, // an artifact's empty config
        {R"({"os":"linux"})", std::nullopt},
        {R"({"os":"linux","architecture":""})", std::nullopt},
        {R"({"os":"linux","architecture":64})", std::nullopt},
        {R"(["linux","amd64"])", std::nullopt},
        {"not json", std::nullopt},
    };
    for (const auto& r : rows) {
        CAPTURE(r.config);
        const auto p = platform_of_config(r.config);
        CHECK(p.has_value() == r.expected.has_value());
        if (p && r.expected) CHECK(p->str() == *r.expected);
    }
    CHECK(
        platform_of_config(R"({"os":"windows","architecture":"amd64","os.version":"10.0.1"})")->os_version ==
        "10.0.1");
}

TEST_CASE("platform_list shows a filter's empty fields as *") {
    CHECK(platform_list({make("linux", "amd64"), make("linux", "arm", "v7")}) == "linux/amd64, linux/arm/v7");
    CHECK(platform_list({make("linux", "")}) == "linux/*");
    CHECK(platform_list({make("", "arm64")}) == "*/arm64");
    CHECK(platform_list({}) == "");
}
