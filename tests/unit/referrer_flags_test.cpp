// --referrers / --no-referrers, --referrer-types, --exclude-referrer-types, --referrers-depth: parsed from
// the command line into a referrer_policy, and bad values refused naming the flag.
#include "commands/referrer_flags.hpp"
#include "session.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace syncer;
using libregistry::referrer_policy;

namespace {

referrer_flags parse_args(std::vector<std::string> args, bool with_switch = true) {
    CLI::App app{"test"};
    referrer_flags flags;
    add_referrer_flags(app, flags, with_switch);
    args.insert(args.begin(), "test");
    std::vector<const char*> argv;
    for (const auto& a : args)
        argv.push_back(a.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
    return flags;
}

std::string usage_message(const referrer_flags& flags) {
    try {
        parse_referrer_flags(flags);
    } catch (const usage_error& e) {
        return e.what();
    }
    return {};
}

} // namespace

TEST_CASE("referrer flags: on by default, every type, depth 4") {
    const auto policy = parse_referrer_flags(parse_args({}));
    CHECK(policy == referrer_policy{});
    CHECK(policy.enabled);
    CHECK(policy.include_types.empty());
    CHECK(policy.exclude_types.empty());
    CHECK(policy.max_depth == 4);
}

TEST_CASE("referrer flags: --no-referrers, --referrers, the last one wins") {
    CHECK_FALSE(parse_referrer_flags(parse_args({"--no-referrers"})).enabled);
    CHECK(parse_referrer_flags(parse_args({"--referrers"})).enabled);
    CHECK(parse_referrer_flags(parse_args({"--no-referrers", "--referrers"})).enabled);
    CHECK_FALSE(parse_referrer_flags(parse_args({"--referrers", "--no-referrers"})).enabled);
}

TEST_CASE("referrer flags: types are repeatable and comma-separated, a comma inside a /regex/ stays") {
    const auto policy = parse_referrer_flags(
        parse_args({"--referrer-types", "application/vnd.dev.cosign.artifact.sig.v1+json, /spdx|cyclonedx/",
                    "--referrer-types=/in-toto{1,2}/", "--exclude-referrer-types",
                    "application/vnd.in-toto+json", "--referrers-depth", "2"}));
    CHECK(policy.enabled);
    CHECK(policy.include_types == std::vector<std::string>{"application/vnd.dev.cosign.artifact.sig.v1+json",
                                                           "/spdx|cyclonedx/", "/in-toto{1,2}/"});
    CHECK(policy.exclude_types == std::vector<std::string>{"application/vnd.in-toto+json"});
    CHECK(policy.max_depth == 2);
    CHECK(parse_referrer_flags(parse_args({"--referrers-depth=1"})).max_depth == 1);
    CHECK(parse_referrer_flags(parse_args({"--referrers-depth", "100"})).max_depth == 100);
}

TEST_CASE("referrer flags: a bad value is a usage error naming the flag") {
    struct bad_case {
        std::vector<std::string> args;
        std::string message; // the start of the error
    };
    const bad_case cases[] = {
        {{"--referrers-depth", "0"}, "--referrers-depth 0: expected a whole number from 1 to 100"},
        {{"--referrers-depth", "101"}, "--referrers-depth 101: expected a whole number from 1 to 100"},
        {{"--referrers-depth", "-1"}, "--referrers-depth -1: expected a whole number"},
        {{"--referrers-depth", "2x"}, "--referrers-depth 2x: expected a whole number"},
        {{"--referrers-depth", "99999999999"}, "--referrers-depth 99999999999: expected a whole number"},
        {{"--referrer-types", "/[/"}, "--referrer-types"},
        {{"--exclude-referrer-types", "sig,/(/"}, "--exclude-referrer-types"},
        {{"--referrer-types", " , "}, "--referrer-types: the list is empty"},
        {{"--no-referrers", "--referrer-types", "sig"},
         "--no-referrers carries no referrers, so --referrer-types, --exclude-referrer-types and "
         "--referrers-depth have nothing to select"},
        {{"--no-referrers", "--referrers-depth", "2"}, "--no-referrers carries no referrers"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.args.front());
        CAPTURE(c.args.back());
        const auto message = usage_message(parse_args(c.args));
        CHECK_MESSAGE(message.starts_with(c.message), message);
    }
}

TEST_CASE("referrer flags: without the switch (syncer referrers) only the selection flags exist") {
    CHECK_THROWS_AS(parse_args({"--no-referrers"}, false), CLI::ParseError);
    const auto policy = parse_referrer_flags(parse_args({"--referrer-types", "sig"}, false));
    CHECK(policy.enabled);
    CHECK(policy.include_types == std::vector<std::string>{"sig"});
}
