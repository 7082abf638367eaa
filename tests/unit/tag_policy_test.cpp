#include "libregistry/sync/tag_policy.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace libregistry;

namespace {

// What LabNow's and an upstream project's repositories list, in a registry's (lexical) order.
const std::vector<std::string> listed = {
    "1.3.9",
    "1.4.0",
    "1.4.1",
    "1.5.0-rc.1",
    "1.5.0",
    "2.0.0-rc.1",
    "2.0.0",
    "2026.0721.2200-aaaaaaa",
    "2026.0722.0823-6e32668",
    "2026.0722.1200-bbbbbbb",
    "latest",
    "main",
    "v1.6.0",
    "v2.1.0-rc1",
};

tag_policy policy(std::vector<std::string> include, std::vector<std::string> exclude = {},
                  std::string semver = {}, std::optional<std::size_t> latest = {}) {
    return tag_policy{std::move(include), std::move(exclude), std::move(semver), latest};
}

} // namespace

TEST_CASE("select_tags: decided by the tag list alone") {
    struct policy_case {
        std::string name;
        tag_policy p;
        std::vector<std::string> expected;
    };
    const policy_case cases[] = {
        {"no policy: every tag, versions newest first, then the others",
         policy({}),
         {"2026.0722.1200-bbbbbbb", "2026.0722.0823-6e32668", "2026.0721.2200-aaaaaaa", "v2.1.0-rc1", "2.0.0",
          "2.0.0-rc.1", "v1.6.0", "1.5.0", "1.5.0-rc.1", "1.4.1", "1.4.0", "1.3.9", "main", "latest"}},
        {"literals only: exactly those the source has, in include order",
         policy({"main", "latest", "gone"}),
         {"main", "latest"}},
        {"exclude release candidates",
         policy({"/^v?[0-9]\\.[0-9]+\\.[0-9]+/"}, {"/-rc/"}),
         {"2.0.0", "v1.6.0", "1.5.0", "1.4.1", "1.4.0", "1.3.9"}},
        {"exclude wins over a literal include", policy({"latest", "main"}, {"main"}), {"latest"}},
        {"semver range: 1.x from 1.4 on, no pre-releases, not the date tags",
         policy({}, {}, ">=1.4 <2"),
         {"v1.6.0", "1.5.0", "1.4.1", "1.4.0"}},
        {"semver range with latest pinned", policy({"latest", "/./"}, {}, "^2"), {"latest", "2.0.0"}},
        {"newest 2 semver releases", policy({}, {"/-/"}, "*", 2), {"2.0.0", "v1.6.0"}},
        {"LabNow: the newest 2 date tags plus latest",
         policy({"latest", "/^[0-9]{4}\\.[0-9]{4}\\./"}, {}, {}, 2),
         {"latest", "2026.0722.1200-bbbbbbb", "2026.0722.0823-6e32668"}},
        {"a window larger than the pool keeps it all, however mixed",
         policy({"/^(main|1\\.4)/"}, {}, {}, 5),
         {"1.4.1", "1.4.0", "main"}},
        {"an include regex is unanchored", policy({"/rc/"}), {"v2.1.0-rc1", "2.0.0-rc.1", "1.5.0-rc.1"}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        const auto selected = select_tags(listed, c.p);
        REQUIRE_MESSAGE(selected.has_value(), selected.error().message);
        CHECK(selected->need_created.empty());
        CHECK(selected->tags == c.expected);
    }
}

TEST_CASE(
    "select_tags: latest over tags that are not versions ranks by creation time, asking only for the pool") {
    using namespace std::chrono;
    const std::vector<std::string> tags = {"1.0.0", "2.0.0", "main", "nightly", "old", "stable", "latest"};
    const auto p = policy({}, {"latest"}, {}, 2);

    const auto first = select_tags(tags, p);
    REQUIRE(first.has_value());
    CHECK(first->tags.empty());
    // Every pool tag, and nothing the filters dropped (`latest` is excluded).
    CHECK(first->need_created ==
          std::vector<std::string>{"2.0.0", "1.0.0", "stable", "old", "nightly", "main"});

    const auto day = [](int d) { return sys_days{2026y / July / d} + microseconds{0}; };
    created_times created = {{"1.0.0", day(20)},   {"2.0.0", day(5)},     {"main", day(21)},
                             {"nightly", day(21)}, {"old", std::nullopt}, {"stable", day(1)}};
    const auto second = select_tags(tags, p, created);
    REQUIRE(second.has_value());
    CHECK(second->need_created.empty());
    // main and nightly tie: the text decides (the greater one first), as for versions.
    CHECK(second->tags == std::vector<std::string>{"nightly", "main"});

    auto three = p;
    three.latest = 3;
    CHECK(select_tags(tags, three, created)->tags == std::vector<std::string>{"nightly", "main", "1.0.0"});
    // An image without a creation time is the oldest.
    three.latest = 5;
    CHECK(select_tags(tags, three, created)->tags ==
          std::vector<std::string>{"nightly", "main", "1.0.0", "2.0.0", "stable"});
}

TEST_CASE("check_tag_policy and split_tag_patterns") {
    const std::pair<tag_policy, std::string> bad[] = {
        {policy({"/[/"}), "\"/[/\": invalid tag regex: missing ]: ["},
        {policy({}, {"-bad"}), "\"-bad\" is neither a tag"},
        {policy({"a b"}), "\"a b\" is neither a tag"},
        {policy({}, {}, ">=y"), "semver comparator \">=y\""},
        {policy({}, {}, {}, 0), "latest: 0 keeps no tag"},
    };
    for (const auto& [p, message] : bad) {
        const auto shown = message; // clang 14 cannot capture a structured binding
        CAPTURE(shown);
        const auto r = check_tag_policy(p);
        REQUIRE(!r.has_value());
        CHECK_MESSAGE(r.error().message.find(message) != std::string::npos, r.error().message);
        CHECK(!select_tags(listed, p).has_value());
    }
    CHECK(check_tag_policy(policy({"latest", "/^v1\\./"}, {"/-rc/"}, ">=1.4 <2", 3)).has_value());

    const std::pair<std::string, std::vector<std::string>> splits[] = {
        {"latest", {"latest"}},
        {" latest , main,, ", {"latest", "main"}},
        {"latest,/^v{1,2}[0-9]/,main", {"latest", "/^v{1,2}[0-9]/", "main"}},
        {"/a/b/ , c", {"/a/b/", "c"}},
        {"/x,y/", {"/x,y/"}},
        {"", {}},
    };
    for (const auto& [text, expected] : splits) {
        const auto shown = text; // clang 14 cannot capture a structured binding
        CAPTURE(shown);
        CHECK(split_tag_patterns(text) == expected);
    }
}
