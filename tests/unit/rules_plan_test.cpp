// `--check`: one line per rule with its source selector, destinations and the options that apply to it.
#include "output/rules_plan.hpp"

#include <doctest/doctest.h>

using namespace libregistry;
using namespace syncer;

namespace {

sync_rule rule(std::string origin, tag_selector selector) {
    sync_rule r;
    r.origin = std::move(origin);
    r.source.registry = "docker.io";
    r.source.repository = "library/alpine";
    r.source.selector = selector;
    r.destinations.push_back({"mirror.example", "hub/alpine", {}});
    return r;
}

} // namespace

TEST_CASE("each rule is one line: origin, source selector, destinations, options") {
    auto every = rule("images.yaml:1", tag_selector::all);
    every.policy.latest = 3;
    every.policy.exclude = {"/-rc/"};
    auto listed = rule("images.yaml:2", tag_selector::listed);
    listed.source.tags = {"3.19", "3.20"};
    listed.destinations.push_back({"backup.example", "alpine", {"a", "b"}});
    listed.platforms = {platform{"linux", "arm64", "v8", ""}};
    listed.prune = true;
    auto regex = rule("images.yaml:3", tag_selector::regex);
    regex.source.regex = "^v1\\.";
    referrer_policy none;
    none.enabled = false;
    regex.referrers = none;
    auto pinned = rule("images.yaml:4", tag_selector::digest);
    pinned.source.digest =
        *digest::parse("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");

    sync_options options;
    options.copy.platforms = {platform{"linux", "amd64", "", ""}};
    const auto text = rules_plan_text({every, listed, regex, pinned}, options);
    CHECK(text ==
          "images.yaml:1  docker.io/library/alpine (every tag) -> mirror.example/hub/alpine  "
          "[exclude /-rc/; latest 3; platforms linux/amd64; referrers (depth 4)]\n"
          "images.yaml:2  docker.io/library/alpine:3.19,3.20 -> mirror.example/hub/alpine, "
          "backup.example/alpine:a,b  [platforms linux/arm64/v8; referrers (depth 4); prune (at most "
          "10%)]\n"
          "images.yaml:3  docker.io/library/alpine:/^v1\\./ -> mirror.example/hub/alpine  [platforms "
          "linux/amd64; no referrers]\n"
          "images.yaml:4  "
          "docker.io/library/alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
          " -> mirror.example/hub/alpine  [platforms linux/amd64; referrers (depth 4)]\n"
          "4 rules, 5 destinations; every file and flag is valid; no registry was contacted\n");
}

TEST_CASE("rules outside the shard are marked and counted; control characters are escaped") {
    auto a = rule("images.yaml:1", tag_selector::all);
    auto b = rule("images.yaml:2\x1b[31m", tag_selector::all);
    b.source.repository = "library/busybox";
    sync_options options;
    options.shard = *parse_shard("0/2");
    const auto text = rules_plan_text({a, b}, options);
    const auto outside = static_cast<int>(!in_shard(a.source, options.shard)) +
                         static_cast<int>(!in_shard(b.source, options.shard));
    CHECK(text.find("\x1b") == std::string::npos);
    std::size_t marks = 0;
    for (auto at = text.find("not in shard 0/2"); at != std::string::npos;
         at = text.find("not in shard 0/2", at + 1))
        ++marks;
    CHECK(marks == static_cast<std::size_t>(outside));
    CHECK(text.find("2 rules, 2 destinations") != std::string::npos);
}
