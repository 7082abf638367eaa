#include <libregistry/core/media_type.hpp>
#include <libregistry/sync/sync_plan.hpp>

#include <doctest/doctest.h>

#include <set>

using namespace libregistry;

namespace {

sync_source source(std::string repo, tag_selector sel, std::vector<std::string> tags = {},
                   std::string regex = {}) {
    sync_source s;
    s.registry = "src.example";
    s.repository = std::move(repo);
    s.selector = sel;
    s.tags = std::move(tags);
    s.regex = std::move(regex);
    return s;
}

sync_destination destination(std::string repo, std::vector<std::string> tags = {},
                             std::string reg = "dst.example") {
    return sync_destination{std::move(reg), std::move(repo), std::move(tags)};
}

std::vector<std::string> pairs(const std::vector<sync_item>& items) {
    std::vector<std::string> out;
    for (const auto& i : items)
        out.push_back(i.source.str() + " -> " + i.destination.str());
    return out;
}

digest d(const char* text) {
    return digest_of(text);
}

} // namespace

TEST_CASE("rules expand into (source tag, destination) items") {
    tag_lists lists{{"src.example/app", {"1.0", "1.1", "latest", "v2.0"}}};
    struct row {
        const char* name;
        sync_rule rule;
        std::vector<std::string> expected;
    };
    std::vector<row> rows{
        {"all tags keep their names",
         {source("app", tag_selector::all), {destination("mirror/app")}, "images.yaml:1"},
         {"src.example/app:1.0 -> dst.example/mirror/app:1.0",
          "src.example/app:1.1 -> dst.example/mirror/app:1.1",
          "src.example/app:latest -> dst.example/mirror/app:latest",
          "src.example/app:v2.0 -> dst.example/mirror/app:v2.0"}},
        {"listed tags map positionally",
         {source("app", tag_selector::listed, {"1.0", "1.1"}),
          {destination("app", {"one", "one-one"})},
          "x:2"},
         {"src.example/app:1.0 -> dst.example/app:one", "src.example/app:1.1 -> dst.example/app:one-one"}},
        {"an unanchored regex matches inside tags",
         {source("app", tag_selector::regex, {}, "1\\."), {destination("app")}, "x:3"},
         {"src.example/app:1.0 -> dst.example/app:1.0", "src.example/app:1.1 -> dst.example/app:1.1"}},
        {"an anchored regex",
         {source("app", tag_selector::regex, {}, "^v[0-9.]+$"), {destination("app")}, "x:4"},
         {"src.example/app:v2.0 -> dst.example/app:v2.0"}},
        {"several destinations, duplicates dropped",
         {source("app", tag_selector::listed, {"latest"}),
          {destination("a"), destination("b"), destination("a")},
          "x"},
         {"src.example/app:latest -> dst.example/a:latest",
          "src.example/app:latest -> dst.example/b:latest"}},
        {"a single listed tag renamed",
         {source("app", tag_selector::listed, {"latest"}), {destination("app", {"stable"})}, "x"},
         {"src.example/app:latest -> dst.example/app:stable"}},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        auto items = expand_rules({r.rule}, lists);
        REQUIRE(items.has_value());
        CHECK(pairs(*items) == r.expected);
    }
}

TEST_CASE("a digest source goes to its digest or to one tag") {
    auto dg = d("index");
    auto s = source("app", tag_selector::digest);
    s.digest = dg;
    auto items =
        expand_rules({{s, {destination("keep"), destination("named", {"pinned"})}, "x"}}, {}).value();
    REQUIRE(items.size() == 2);
    CHECK(items[0].destination.digest == dg);
    CHECK(items[0].destination.tag.empty());
    CHECK(items[1].destination.tag == "pinned");
    CHECK(items[1].source.digest == dg);
}

TEST_CASE("rule errors name the rule") {
    tag_lists lists{{"src.example/app", {"a", "b"}}};
    auto mismatch = expand_rules({{source("app", tag_selector::listed, {"a", "b"}),
                                   {destination("app", {"x", "y", "z"})},
                                   "images.yaml:7"}},
                                 lists);
    REQUIRE_FALSE(mismatch.has_value());
    CHECK(mismatch.error().message.find("images.yaml:7") == 0);
    CHECK(mismatch.error().message.find("3 tags but the source has 2") != std::string::npos);

    auto regex = expand_rules(
        {{source("app", tag_selector::regex, {}, "[a"), {destination("app")}, "f.yaml:2"}}, lists);
    REQUIRE_FALSE(regex.has_value());
    CHECK(regex.error().message.find("f.yaml:2: invalid tag regex /[a/") == 0);

    auto conflict =
        expand_rules({{source("app", tag_selector::listed, {"a"}), {destination("x", {"t"})}, "f:1"},
                      {source("app", tag_selector::listed, {"b"}), {destination("x", {"t"})}, "f:2"}},
                     lists);
    REQUIRE_FALSE(conflict.has_value());
    CHECK(conflict.error().message.find("f:2: destination dst.example/x:t is also the destination of "
                                        "src.example/app:a (f:1)") == 0);
}

TEST_CASE("tag lists are needed once per repository") {
    std::vector<sync_rule> rules{{source("a", tag_selector::all), {destination("a")}, ""},
                                 {source("a", tag_selector::regex, {}, "x"), {destination("b")}, ""},
                                 {source("b", tag_selector::listed, {"1"}), {destination("b")}, ""},
                                 {source("c", tag_selector::regex, {}, "x"), {destination("c")}, ""}};
    auto repos = repositories_to_list(rules);
    REQUIRE(repos.size() == 2);
    CHECK(repos[0].repository == "a");
    CHECK(repos[1].repository == "c");
}

TEST_CASE("the plan skips equal digests, copies the rest, fails what is missing") {
    sync_item item{parse_reference("src.example/app:1").value(), parse_reference("dst.example/app:1").value(),
                   "o"};
    struct row {
        observation seen;
        plan_options options;
        action_kind kind;
        std::string reason;
    };
    const std::string image{media_types::oci_manifest}, index{media_types::oci_index};
    const std::string schema1{media_types::docker_schema1_signed};
    const plan_options filter{false, true};
    std::vector<row> rows{
        {{d("a"), d("a"), {}, image}, {}, action_kind::skip, "in sync"},
        {{d("a"), d("a"), {}, image}, {true, false}, action_kind::copy, "--force"},
        {{d("a"), d("b"), {}, image}, {}, action_kind::copy, "destination has " + d("b").str()},
        {{d("a"), std::nullopt, {}, image}, {}, action_kind::copy, "missing at the destination"},
        {{std::nullopt, std::nullopt, {}, {}}, {}, action_kind::fail, "src.example/app:1 not found"},
        {{d("a"), d("a"), {}, index}, filter, action_kind::copy, "platform filter"},
        // issue 10: a filtered rerun pushed every unchanged single-platform image again.
        {{d("a"), d("a"), {}, image}, filter, action_kind::skip, "in sync"},
        {{d("a"), d("a"), {}, schema1}, filter, action_kind::skip, "in sync"},
        {{d("a"), d("b"), {}, image}, filter, action_kind::copy, "destination has " + d("b").str()},
        {{d("a"), std::nullopt, {}, image}, filter, action_kind::copy, "missing at the destination"},
        // A HEAD that does not say what it is may be an index, which the engine compares after filtering it.
        {{d("a"), d("a"), {}, "application/json"}, filter, action_kind::copy, "platform filter"},
        {{std::nullopt, std::nullopt, make_error(errc::unauthorized, "HEAD x: denied"), {}},
         {},
         action_kind::fail,
         "HEAD x: denied"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.reason);
        auto plan = plan_sync({item}, {r.seen}, r.options);
        REQUIRE(plan.size() == 1);
        CHECK(plan[0].kind == r.kind);
        CHECK(plan[0].reason.find(r.reason) != std::string::npos);
    }
}

TEST_CASE("shards split repositories deterministically and cover everything once") {
    CHECK(parse_shard("0/3").value().count == 3);
    CHECK(parse_shard("2/3").value().index == 2);
    for (auto bad : {"3/3", "1", "a/3", "1/0", "-1/2", "1/2/3", ""}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_shard(bad).has_value());
    }
    std::vector<int> sizes(3);
    for (int i = 0; i < 300; ++i) {
        auto s = source("repo-" + std::to_string(i), tag_selector::all);
        int owners = 0;
        for (unsigned k = 0; k < 3; ++k)
            if (in_shard(s, shard{k, 3})) {
                ++owners;
                ++sizes[k];
            }
        CHECK(owners == 1);
    }
    for (int n : sizes)
        CHECK(n > 50);
    // Pinned: the split must not change between builds or machines.
    CHECK(in_shard(source("library/alpine", tag_selector::all), shard{0, 1}));
    std::set<unsigned> seen;
    for (unsigned k = 0; k < 4; ++k)
        if (in_shard(source("org/app", tag_selector::all), shard{k, 4})) seen.insert(k);
    CHECK(seen.size() == 1);
}

TEST_CASE("remove_invalid_tags keeps tag names and returns the rest") {
    std::vector<std::string> tags{
        "1.0",    "latest", "../x",  "",         "a b", std::string(129, 'a'), std::string(128, 'a'),
        "_under", ".dot",   "-dash", "v1\x1b[2J"};
    auto invalid = remove_invalid_tags(tags);
    CHECK(tags == std::vector<std::string>{"1.0", "latest", std::string(128, 'a'), "_under"});
    CHECK(invalid ==
          std::vector<std::string>{"../x", "", "a b", std::string(129, 'a'), ".dot", "-dash", "v1\x1b[2J"});
    auto one = invalid_tags_warning("quay.io/org/app", {"v1\x1b[2J"});
    CHECK(one ==
          "quay.io/org/app listed 1 tag that is not a valid tag name (letters, digits, '_', '.', '-'; at "
          "most 128 characters); skipped: \"v1\\e[2J\"");
}

TEST_CASE("a rule's policy selects its tags; the run's policy fills in what a rule leaves out") {
    const tag_lists lists = {
        {"src.example/app", {"1.0.0", "1.1.0", "2.0.0-rc.1", "2.0.0", "latest", "main"}}};
    sync_rule own{source("app", tag_selector::all), {destination("own")}, "own"};
    own.policy.include = {"latest", "/^[0-9]/"};
    own.policy.latest = 1;
    sync_rule bare{source("app", tag_selector::regex, {}, "^[0-9]"), {destination("bare")}, "bare"};
    sync_rule listed{source("app", tag_selector::listed, {"main"}), {destination("listed")}, "listed"};
    std::vector<sync_rule> rules = {own, bare, listed};

    tag_policy run;
    run.include = {"/./"};
    run.exclude = {"/-rc/"};
    run.latest = 2;
    apply_run_policy(rules, run);
    CHECK(rules[0].policy.include == std::vector<std::string>{"latest", "/^[0-9]/"});
    CHECK(rules[0].policy.exclude == std::vector<std::string>{"/-rc/"});
    CHECK(rules[0].policy.latest == std::optional<std::size_t>(1));
    CHECK(rules[1].policy.include == std::vector<std::string>{"/./"});
    CHECK(rules[1].policy.latest == std::optional<std::size_t>(2));
    CHECK(rules[2].policy.empty());

    auto items = expand_rules(rules, lists);
    REQUIRE_MESSAGE(items.has_value(), items.error().message);
    CHECK(pairs(*items) == std::vector<std::string>{
                               "src.example/app:latest -> dst.example/own:latest",
                               "src.example/app:2.0.0 -> dst.example/own:2.0.0",
                               "src.example/app:2.0.0 -> dst.example/bare:2.0.0",
                               "src.example/app:1.1.0 -> dst.example/bare:1.1.0",
                               "src.example/app:main -> dst.example/listed:main",
                           });

    // A policy that needs creation times the caller did not fetch is an error, not a guess.
    sync_rule mixed{source("app", tag_selector::all), {destination("mixed")}, "mixed"};
    mixed.policy.latest = 1;
    auto needs = rule_tags(mixed, lists);
    REQUIRE(needs.has_value());
    REQUIRE(needs->has_value());
    CHECK((*needs)->need_created.size() == 6);
    auto refused = expand_rules({mixed}, lists);
    REQUIRE(!refused.has_value());
    CHECK(refused.error().message ==
          "mixed: latest: 1 needs the creation times of 6 tags of src.example/app");
}

TEST_CASE("a rule carrying referrers leaves the tag schema's and cosign's tags to their subjects") {
    const auto hex = std::string(64, 'a');
    tag_lists lists{
        {"src.example/app",
         {"1.0", "sha256-" + hex, "sha256-" + hex + ".sig", "sha256-" + hex + ".att", "sha256-short"}}};
    sync_rule rule{source("app", tag_selector::all), {destination("app")}, "images.yaml:1"};
    SUBCASE("without referrers (an image-syncer file as before) every tag is an image") {
        rule.referrers = referrer_policy{};
        rule.referrers->enabled = false;
        auto items = expand_rules({rule}, lists);
        REQUIRE(items.has_value());
        CHECK(items->size() == 5);
    }
    SUBCASE("with referrers only images and tags that merely look alike stay") {
        rule.referrers = referrer_policy{};
        auto items = expand_rules({rule}, lists);
        REQUIRE(items.has_value());
        CHECK(pairs(*items) ==
              std::vector<std::string>{"src.example/app:1.0 -> dst.example/app:1.0",
                                       "src.example/app:sha256-short -> dst.example/app:sha256-short"});
        rule.source = source("app", tag_selector::regex, {}, "^sha256-");
        items = expand_rules({rule}, lists);
        REQUIRE(items.has_value());
        CHECK(pairs(*items) ==
              std::vector<std::string>{"src.example/app:sha256-short -> dst.example/app:sha256-short"});
    }
}
