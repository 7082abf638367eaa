// --timeout, --min-rate and --min-rate-window: parsed from the command line, checked, and only where offered.
#include "commands/run_limits.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace syncer;
using namespace std::chrono_literals;

namespace {

run_limit_flags parse_args(std::vector<std::string> args) {
    CLI::App app{"test"};
    run_limit_flags flags;
    add_run_limit_flags(app, flags);
    args.insert(args.begin(), "test");
    std::vector<const char*> argv;
    for (const auto& a : args)
        argv.push_back(a.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
    return flags;
}

std::string usage_message(const run_limit_flags& flags) {
    try {
        parse_run_limits(flags);
    } catch (const usage_error& e) {
        return e.what();
    }
    return {};
}

} // namespace

TEST_CASE("run limits: defaults, values, and 0 for no minimum rate") {
    auto defaults = parse_run_limits(parse_args({}));
    CHECK(defaults.timeout == 0ms);
    REQUIRE(defaults.min_rate.has_value());
    CHECK(defaults.min_rate->bytes_per_second == libregistry::min_transfer_rate{}.bytes_per_second);
    CHECK(defaults.min_rate->window == 60s);

    auto given =
        parse_run_limits(parse_args({"--timeout", "1h30m", "--min-rate", "64KiB/s", "--min-rate-window=2s"}));
    CHECK(given.timeout == 90min);
    REQUIRE(given.min_rate.has_value());
    CHECK(given.min_rate->bytes_per_second == 64 * 1024);
    CHECK(given.min_rate->window == 2s);

    auto off = parse_run_limits(parse_args({"--min-rate", "0"}));
    REQUIRE(off.min_rate.has_value());
    CHECK(off.min_rate->bytes_per_second == 0);
}

TEST_CASE("run limits: a bad value is a usage error naming the flag") {
    CHECK(usage_message(parse_args({"--timeout", "soon"}))
              .starts_with("--timeout: \"soon\" is not a duration"));
    CHECK(usage_message(parse_args({"--min-rate", "fast"}))
              .starts_with("--min-rate: \"fast\" is not a transfer rate"));
    CHECK(usage_message(parse_args({"--min-rate-window", "1x"})).starts_with("--min-rate-window: \"1x\""));
    CHECK(usage_message(parse_args({"--min-rate-window", "0"})) ==
          "--min-rate-window: the window must be longer than 0; --min-rate 0 turns the minimum transfer rate "
          "off");
}

TEST_CASE("run limits: a command without the flags keeps the library's minimum and names no flag") {
    // image-syncer's command line has none of these flags: its session must not get a hint naming them.
    const run_limit_flags not_offered;
    auto limits = parse_run_limits(not_offered);
    CHECK_FALSE(limits.min_rate.has_value());
    CHECK(limits.timeout == 0ms);
}
