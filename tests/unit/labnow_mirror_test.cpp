#include "labnow/labnow_mirror.hpp"
#include "text.hpp"

#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

using namespace libregistry;
using namespace syncer;

namespace {

env_lookup fake_env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        const auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

mirror_request labnow_request() {
    mirror_request r;
    r.source_registry = "quay.io";
    r.image_namespace = "labnow";
    r.images = {{"atom", "wf.yml:9"}, {"python-3.13", "wf.yml:14"}};
    r.targets = {"registry.cn-hangzhou.aliyuncs.com", "registry.cn-beijing.aliyuncs.com"};
    return r;
}

} // namespace

TEST_CASE("split_list: repeatable, comma-separated values, trimmed and merged") {
    struct list_case {
        std::vector<std::string> values;
        std::vector<std::string> expected;
    };
    const list_case cases[] = {
        {{}, {}},
        {{""}, {}},
        {{",", " , "}, {}},
        {{"a.io,b.io"}, {"a.io", "b.io"}},
        {{"a.io", " b.io ,c.io", "a.io"}, {"a.io", "b.io", "c.io"}},
        {{"a.io,,a.io,"}, {"a.io"}},
    };
    for (const auto& c : cases)
        CHECK(split_list(c.values) == c.expected);
}

TEST_CASE("parse_registry: hosts as users write them") {
    struct registry_case {
        std::string text;
        std::string expected; // empty: an error
    };
    const registry_case cases[] = {
        {"quay.io", "quay.io"},
        {" https://quay.io/ ", "quay.io"},
        {"index.docker.io", "docker.io"},
        {"127.0.0.1:5000", "127.0.0.1:5000"},
        {"localhost", "localhost"},
        {"registry.example.com/mirror", "registry.example.com/mirror"},
        {"", ""},
        {"/", ""},
        {"myregistry", ""}, // no dot or port: docker would read it as a Docker Hub namespace
        {"user@quay.io", ""},
        {"quay.io/Mirror", ""},
        {"quay.io//x", ""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        auto r = parse_registry(c.text, "--target-registry");
        if (c.expected.empty()) {
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().message.rfind("--target-registry: ", 0) == 0);
        } else {
            REQUIRE(r.has_value());
            CHECK(*r == c.expected);
        }
    }
}

TEST_CASE("mirror_rules: one rule per image, one destination per target, same path, every tag") {
    auto rules = mirror_rules(labnow_request());
    REQUIRE(rules.has_value());
    REQUIRE(rules->size() == 2);
    const auto& atom = (*rules)[0];
    CHECK(atom.source.registry == "quay.io");
    CHECK(atom.source.repository == "labnow/atom");
    CHECK(atom.source.selector == tag_selector::all);
    CHECK(atom.origin == "wf.yml:9");
    REQUIRE(atom.destinations.size() == 2);
    CHECK(atom.destinations[0].name() == "registry.cn-hangzhou.aliyuncs.com/labnow/atom");
    CHECK(atom.destinations[1].name() == "registry.cn-beijing.aliyuncs.com/labnow/atom");
    CHECK(atom.destinations[0].tags.empty());
    CHECK((*rules)[1].source.name() == "quay.io/labnow/python-3.13");
}

TEST_CASE("mirror_rules: listed tags, Docker Hub, targets with a path, repeated targets") {
    auto r = labnow_request();
    r.source_registry = "https://index.docker.io/v1/";
    r.image_namespace = "library";
    r.images = {{"base", "command line"}};
    r.targets = {"127.0.0.1:5001/mirror", "127.0.0.1:5002", "127.0.0.1:5002/"};
    r.tags = {"latest", "2026.0722.0823-6e32668"};
    auto rules = mirror_rules(r);
    REQUIRE(rules.has_value());
    REQUIRE(rules->size() == 1);
    const auto& rule = rules->front();
    CHECK(rule.source.name() == "docker.io/library/base");
    CHECK(rule.source.selector == tag_selector::listed);
    CHECK(rule.source.tags == std::vector<std::string>{"latest", "2026.0722.0823-6e32668"});
    REQUIRE(rule.destinations.size() == 2);
    CHECK(rule.destinations[0].name() == "127.0.0.1:5001/mirror/library/base");
    CHECK(rule.destinations[1].name() == "127.0.0.1:5002/library/base");
}

TEST_CASE("mirror_rules: refuses what the old script turned into wrong destinations") {
    struct refuse_case {
        std::string what;
        void (*change)(mirror_request&);
        std::string message; // found in the error
    };
    const refuse_case cases[] = {
        {"no targets", [](mirror_request& r) { r.targets.clear(); }, "no target registry"},
        {"empty target", [](mirror_request& r) { r.targets = {" "}; }, "the registry is empty"},
        {"no images", [](mirror_request& r) { r.images.clear(); }, "no images"},
        {"target is the source", [](mirror_request& r) { r.targets = {"https://quay.io"}; },
         "is the source registry"},
        {"bad namespace", [](mirror_request& r) { r.image_namespace = "LabNow"; }, "namespace \"LabNow\""},
        {"empty namespace", [](mirror_request& r) { r.image_namespace.clear(); }, "namespace \"\""},
        {"bad source", [](mirror_request& r) { r.source_registry = "quay"; }, "source registry: \"quay\""},
        {"bad tag", [](mirror_request& r) { r.tags = {"-bad"}; }, "wf.yml:9: "},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        auto r = labnow_request();
        c.change(r);
        auto rules = mirror_rules(r);
        REQUIRE_FALSE(rules.has_value());
        CAPTURE(rules.error().message);
        CHECK(rules.error().message.find(c.message) != std::string::npos);
    }
}

TEST_CASE("env_credentials: source and mirror pairs, keyed by registry") {
    auto r = labnow_request();
    auto both = env_credentials(fake_env({{"DOCKER_REGISTRY_USERNAME", "robot"},
                                          {"DOCKER_REGISTRY_PASSWORD", "s3cret"},
                                          {"DOCKER_MIRROR_REGISTRY_USERNAME", "mirror"},
                                          {"DOCKER_MIRROR_REGISTRY_PASSWORD", "m1rror"}}),
                                r);
    REQUIRE(both.has_value());
    REQUIRE(both->size() == 3);
    CHECK((*both)[0].key == "registry.cn-hangzhou.aliyuncs.com");
    CHECK((*both)[0].cred.username == "mirror");
    CHECK((*both)[1].key == "registry.cn-beijing.aliyuncs.com");
    CHECK((*both)[1].cred.password == "m1rror");
    CHECK((*both)[2].key == "quay.io");
    CHECK((*both)[2].cred.username == "robot");
    CHECK((*both)[2].cred.password == "s3cret");
    CHECK(match_credential_rule(*both, "quay.io", "labnow/atom") == &(*both)[2]);

    auto mirrors_only = env_credentials(fake_env({{"DOCKER_MIRROR_REGISTRY_USERNAME", "mirror"},
                                                  {"DOCKER_MIRROR_REGISTRY_PASSWORD", "m1rror"},
                                                  {"DOCKER_REGISTRY_USERNAME", ""}}),
                                        r);
    REQUIRE(mirrors_only.has_value());
    CHECK(mirrors_only->size() == 2);

    auto none = env_credentials(fake_env({}), r);
    REQUIRE(none.has_value());
    CHECK(none->empty());

    auto half = env_credentials(fake_env({{"DOCKER_MIRROR_REGISTRY_PASSWORD", "m1rror"}}), r);
    REQUIRE_FALSE(half.has_value());
    CHECK(half.error().message ==
          "DOCKER_MIRROR_REGISTRY_PASSWORD is set but DOCKER_MIRROR_REGISTRY_USERNAME is not; set both, or "
          "neither for anonymous access");
}
