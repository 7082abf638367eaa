#include "libregistry/core/credential_rules.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace libregistry;

namespace {

credential_rule rule(std::string key, std::string user, bool insecure = false) {
    credential_rule r;
    r.key = std::move(key);
    r.cred.username = std::move(user);
    r.cred.password = "secret";
    r.insecure = insecure;
    r.origin = "auth.yaml:1";
    return r;
}

} // namespace

TEST_CASE("match_credential_rule: longest path-segment prefix wins") {
    const std::vector<credential_rule> rules = {
        rule("quay.io", "host"),
        rule("quay.io/org", "org"),
        rule("quay.io/org/team", "team"),
        rule("quay.io/other/app", "exact"),
        rule("docker.io/library", "hub-library"),
        rule("localhost:5000", "local"),
        rule("Registry.Example.com", "mixed-case"),
    };
    struct match_case {
        std::string registry;
        std::string repository;
        std::string user; // "" when nothing matches
    };
    const match_case cases[] = {
        {"quay.io", "org/app", "org"},
        {"quay.io", "org", "org"},
        {"quay.io", "organisation/app", "host"},
        {"quay.io", "org/team/app", "team"},
        {"quay.io", "org/team", "team"},
        {"quay.io", "org/teams/app", "org"},
        {"quay.io", "other/app", "exact"},
        {"quay.io", "other/app2", "host"},
        {"quay.io", "other/app/sub", "exact"},
        {"quay.io", "", "host"},
        {"quay.io:443", "org/app", ""},
        {"docker.io", "library/nginx", "hub-library"},
        {"index.docker.io", "library/nginx", "hub-library"},
        {"registry-1.docker.io", "library/nginx", "hub-library"},
        {"docker.io", "user/app", ""},
        {"localhost:5000", "a/b", "local"},
        {"localhost", "a/b", ""},
        {"localhost:50000", "a/b", ""},
        {"registry.example.com", "x", "mixed-case"},
        {"ghcr.io", "org/app", ""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.registry);
        CAPTURE(c.repository);
        const auto* found = match_credential_rule(rules, c.registry, c.repository);
        if (c.user.empty()) {
            CHECK(found == nullptr);
        } else {
            REQUIRE(found != nullptr);
            CHECK(found->cred.username == c.user);
        }
    }
}

TEST_CASE("match_credential_rule: of two equal keys the first wins, whatever the order of lengths") {
    const std::vector<credential_rule> rules = {rule("quay.io/org/app", "long"), rule("quay.io/org", "short"),
                                                rule("quay.io/org/app", "second")};
    const auto* found = match_credential_rule(rules, "quay.io", "org/app");
    REQUIRE(found != nullptr);
    CHECK(found->cred.username == "long");
    CHECK(match_credential_rule({}, "quay.io", "org/app") == nullptr);
}

TEST_CASE("match_credential_rule: tolerates unnormalised keys") {
    const std::vector<credential_rule> rules = {rule("https://index.docker.io/", "hub"),
                                                rule("quay.io/org/", "org")};
    const auto* hub = match_credential_rule(rules, "docker.io", "library/busybox");
    REQUIRE(hub != nullptr);
    CHECK(hub->cred.username == "hub");
    const auto* org = match_credential_rule(rules, "quay.io", "org/app");
    REQUIRE(org != nullptr);
    CHECK(org->cred.username == "org");
}

TEST_CASE("registry_is_insecure: any rule for the host") {
    const std::vector<credential_rule> rules = {
        rule("quay.io/org", "org", true),
        rule("quay.io", "host", false),
        rule("localhost:5000", "local", false),
        rule("index.docker.io", "hub", true),
    };
    struct insecure_case {
        std::string registry;
        bool insecure;
    };
    const insecure_case cases[] = {
        {"quay.io", true},   {"QUAY.IO", true},  {"localhost:5000", false},
        {"docker.io", true}, {"ghcr.io", false}, {"quay.io:5000", false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.registry);
        CHECK(registry_is_insecure(rules, c.registry) == c.insecure);
    }
}
