#include <libregistry/sync/prune_plan.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace libregistry;

namespace {

const std::string hex(64, 'a');

sync_rule rule(std::string source_repo, std::string destination_repo, bool prune = true) {
    sync_rule r;
    r.source.registry = "src";
    r.source.repository = std::move(source_repo);
    r.destinations.push_back(sync_destination{"dst", std::move(destination_repo), {}});
    r.origin = "images.yaml:" + r.source.repository;
    r.prune = prune;
    return r;
}

// A run of `rules` whose sources list `source`, with the destination listing `destination` after the copies.
prune_input input(std::vector<sync_rule> rules, std::vector<std::string> source,
                  std::vector<std::string> destination) {
    prune_input in;
    in.rules = std::move(rules);
    for (const auto& r : in.rules)
        in.source_tags[r.source.name()] = source;
    in.items = expand_rules(in.rules, in.source_tags).value();
    for (const auto& r : in.rules)
        for (const auto& d : r.destinations)
            in.destination_tags[d.name()] = destination;
    in.guard = prune_guard{100, true};
    return in;
}

} // namespace

TEST_CASE("plan_prune deletes the destination tags no rule maps to, sorted, and keeps the rest") {
    auto plan = plan_prune(
        input({rule("app", "mirror/app")}, {"1.1", "1.2", "latest"}, {"1.0", "1.1", "0.9", "1.2", "latest"}));
    REQUIRE(plan.size() == 1);
    CHECK(plan[0].repository.name() == "dst/mirror/app");
    CHECK(plan[0].origin == "images.yaml:app");
    CHECK(!plan[0].refusal);
    CHECK(plan[0].deletions == std::vector<std::string>{"0.9", "1.0"});
    CHECK(plan[0].kept == std::vector<std::string>{"1.1", "1.2", "latest"});
}

TEST_CASE("plan_prune plans nothing for rules without prune") {
    CHECK(plan_prune(input({rule("app", "mirror/app", false)}, {"1"}, {"1", "2"})).empty());
}

TEST_CASE("plan_prune keeps what any rule writing the repository maps, pruning or not") {
    auto a = rule("a", "mirror/shared");
    auto b = rule("b", "mirror/shared", false);
    b.source.selector = tag_selector::listed;
    b.source.tags = {"b-only"};
    auto in = input({a, b}, {"1"}, {"1", "b-only", "old"});
    auto plan = plan_prune(in);
    REQUIRE(plan.size() == 1);
    CHECK(plan[0].deletions == std::vector<std::string>{"old"});
}

TEST_CASE("plan_prune refuses a repository when the source listing failed") {
    auto in = input({rule("app", "mirror/app")}, {"1"}, {"1", "2"});
    in.source_tags.clear();
    in.items.clear();
    in.unlisted_sources.insert("src/app");
    auto plan = plan_prune(in);
    REQUIRE(plan.size() == 1);
    REQUIRE(plan[0].refusal);
    CHECK(plan[0].refusal->find("src/app (images.yaml:app) could not be listed") != std::string::npos);
    CHECK(plan[0].deletions == std::vector<std::string>{"1", "2"}); // what it would have deleted
}

TEST_CASE("plan_prune refuses a repository when the source listed no tags") {
    auto plan = plan_prune(input({rule("app", "mirror/app")}, {}, {"1", "2"}));
    REQUIRE(plan[0].refusal);
    CHECK(plan[0].refusal->find("listed no tags") != std::string::npos);
}

TEST_CASE("plan_prune refuses a repository when the rule's regex selects no tag") {
    auto r = rule("app", "mirror/app");
    r.source.selector = tag_selector::regex;
    r.source.regex = "^nothing$";
    auto plan = plan_prune(input({r}, {"1", "2"}, {"1", "2"}));
    REQUIRE(plan[0].refusal);
    CHECK(plan[0].refusal->find("selects no tag of src/app") != std::string::npos);
}

TEST_CASE("plan_prune refuses everything when the run was interrupted") {
    auto in = input({rule("a", "mirror/a"), rule("b", "mirror/b")}, {"1"}, {"1", "2"});
    in.interrupted = true;
    for (const auto& t : plan_prune(in)) {
        REQUIRE(t.refusal);
        CHECK(t.refusal->find("interrupted") != std::string::npos);
    }
}

TEST_CASE("plan_prune refuses a repository where an image failed, and only that one") {
    auto in = input({rule("a", "mirror/a"), rule("b", "mirror/b")}, {"1"}, {"1", "2"});
    in.failed_destinations.insert("dst/mirror/a");
    auto plan = plan_prune(in);
    REQUIRE(plan.size() == 2);
    REQUIRE(plan[0].refusal);
    CHECK(plan[0].refusal->find("failed in this run") != std::string::npos);
    CHECK(!plan[1].refusal);
}

TEST_CASE("plan_prune refuses a repository whose own listing failed or that other shards write") {
    auto in = input({rule("a", "mirror/a"), rule("b", "mirror/b")}, {"1"}, {"1", "2"});
    in.destination_tags.erase("dst/mirror/a");
    in.destination_failures["dst/mirror/a"] = "503 Service Unavailable";
    in.foreign_destinations.insert("dst/mirror/b");
    auto plan = plan_prune(in);
    REQUIRE(plan[0].refusal);
    CHECK(plan[0].refusal->find("listing its tags failed: 503") != std::string::npos);
    REQUIRE(plan[1].refusal);
    CHECK(plan[1].refusal->find("other shards") != std::string::npos);
}

TEST_CASE("plan_prune refuses more deletions than the guard allows, as a count and as a percentage") {
    std::vector<std::string> destination{"keep"};
    for (int i = 0; i < 19; ++i)
        destination.push_back("old-" + std::to_string(i));
    auto in = input({rule("app", "mirror/app")}, {"keep"}, destination);

    in.guard = prune_guard{19, false};
    CHECK(!plan_prune(in)[0].refusal);
    in.guard = prune_guard{18, false};
    auto refused = plan_prune(in);
    REQUIRE(refused[0].refusal);
    CHECK(*refused[0].refusal == "it would delete 19 of its 20 tags, more than --prune-max 18 allows (18); "
                                 "check the source, then raise --prune-max for one run to prune them");

    in.guard = prune_guard{95, true}; // 19 of 20
    CHECK(!plan_prune(in)[0].refusal);
    in.guard = prune_guard{90, true}; // 18 of 20
    REQUIRE(plan_prune(in)[0].refusal);
    CHECK(plan_prune(in)[0].refusal->find("--prune-max 90% allows (18)") != std::string::npos);
}

TEST_CASE("plan_prune never deletes referrer-schema tags: they belong to their subject") {
    auto plan =
        plan_prune(input({rule("app", "mirror/app")}, {"1"},
                         {"1", "sha256-" + hex, "sha256-" + hex + ".sig", "sha256-" + hex + ".att", "2"}));
    CHECK(plan[0].deletions == std::vector<std::string>{"2"});
    CHECK(plan[0].kept.size() == 4);
}

TEST_CASE("plan_prune passes on the digests rules write without a tag") {
    auto r = rule("app", "mirror/app");
    r.source.selector = tag_selector::digest;
    r.source.digest = digest::parse("sha256:" + hex).value();
    auto in = input({r}, {}, {"old"});
    auto plan = plan_prune(in);
    CHECK(!plan[0].refusal);
    CHECK(plan[0].kept_digests == std::vector<digest>{*r.source.digest});
    CHECK(plan[0].deletions == std::vector<std::string>{"old"});
}

TEST_CASE("parse_prune_guard reads counts and percentages and rejects the rest") {
    CHECK(parse_prune_guard("20").value().str() == "20");
    CHECK(parse_prune_guard("10%").value().str() == "10%");
    CHECK(parse_prune_guard("100%").value().percent);
    for (auto bad : {"", "%", "-1", "101%", "1.5", "ten", "10 %"})
        CHECK_MESSAGE(!parse_prune_guard(bad), bad);
    CHECK(parse_prune_guard("x").error().message.find("--prune-max \"x\"") != std::string::npos);
}

TEST_CASE("prune_limit: a percentage rounds down but allows at least one, a count is exact, zero is zero") {
    CHECK(prune_limit(prune_guard{10, true}, 200) == 20);
    CHECK(prune_limit(prune_guard{10, true}, 19) == 1);
    CHECK(prune_limit(prune_guard{10, true}, 3) == 1);
    CHECK(prune_limit(prune_guard{0, true}, 300) == 0);
    CHECK(prune_limit(prune_guard{5, false}, 300) == 5);
}
