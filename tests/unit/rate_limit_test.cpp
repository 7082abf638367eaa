// Rate-limit headers as registries send them, and when the next request may go out (core/rate_limit.hpp).
#include "libregistry/core/rate_limit.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

using namespace libregistry;
using namespace std::chrono_literals;

namespace {

using clock = rate_limit_state::clock;

// 2026-12-05T15:31:00Z: a fixed "now" so that dates and messages are exact.
const clock::time_point t0 = std::chrono::sys_days{std::chrono::year{2026} / 12 / 5} + 15h + 31min;

} // namespace

TEST_CASE("parse_rate_limit_remaining") {
    struct row {
        std::string header;
        std::optional<long long> remaining;
        long long window;
    };
    std::vector<row> rows{
        {"76;w=21600", 76, 21600}, // Docker Hub
        {"0;w=21600", 0, 21600},
        {"100", 100, 0},
        {"5; w=60", 5, 60},
        {"0;w=0", 0, 0},
        {" 3 ", 3, 0},
        {"0;w=60;comment=\"x\"", 0, 60},
        {"", std::nullopt, 0},
        {"many", std::nullopt, 0},
        {"12abc;w=1", std::nullopt, 0},
        {"-1", std::nullopt, 0},
    };
    for (const auto& r : rows) {
        CAPTURE(r.header);
        auto parsed = parse_rate_limit_remaining(r.header);
        REQUIRE(parsed.has_value() == r.remaining.has_value());
        if (!parsed) continue;
        CHECK(parsed->remaining == *r.remaining);
        CHECK(parsed->window_seconds == r.window);
    }
}

TEST_CASE("parse_rate_limit_reset") {
    CHECK(parse_rate_limit_reset("3600") == std::chrono::seconds(3600));
    CHECK(parse_rate_limit_reset(" 0 ") == std::chrono::seconds(0));
    CHECK(parse_rate_limit_reset("60;w=60") == std::chrono::seconds(60));
    CHECK_FALSE(parse_rate_limit_reset(""));
    CHECK_FALSE(parse_rate_limit_reset("soon"));
    CHECK_FALSE(parse_rate_limit_reset("-5"));
}

TEST_CASE("rate limits: what an answer holds back, for how long, and what is refused") {
    struct answer {
        std::chrono::seconds at; ///< received at t0 + at
        int status;
        const char* remaining;
        const char* reset;
        const char* retry_after;
        bool pull; ///< the answer was to a manifest GET
    };
    struct row {
        const char* name;
        std::vector<answer> answers;
        std::chrono::milliseconds asked_at; ///< admit() at t0 + asked_at
        bool pull;
        std::chrono::milliseconds max_wait;
        rate_limit_action action;
        std::chrono::seconds until; ///< t0 + until, for wait and refuse
        bool quota;
    };
    const auto go = rate_limit_action::go;
    const auto wait = rate_limit_action::wait;
    const auto refuse = rate_limit_action::refuse;
    const std::chrono::milliseconds five_min = 5min;
    // The answers of issue 10: the IETF fields with a short Retry-After, and Docker Hub's.
    const answer ietf_429{0s, 429, "0", "", "1", true};
    const answer hub_429{0s, 429, "0;w=21600", "", "", true};
    const answer hub_200{0s, 200, "0;w=21600", "", "", true};
    const std::vector<row> rows{
        {"a 429 with Retry-After pauses every request", {ietf_429}, 0ms, false, five_min, wait, 1s, true},
        {"... pulls included", {ietf_429}, 500ms, true, five_min, wait, 1s, true},
        {"... and ends when its time passes", {ietf_429}, 1000ms, true, five_min, go, 0s, false},
        {"a remembered Remaining 0 with a reset holds pulls back",
         {{0s, 200, "0", "18720", "", true}},
         0ms,
         true,
         five_min,
         refuse,
         18720s,
         true},
        {"... not other requests (Docker Hub counts manifest GETs)",
         {{0s, 200, "0", "18720", "", true}},
         0ms,
         false,
         five_min,
         go,
         0s,
         false},
        {"... and expires when it resets",
         {{0s, 200, "0", "18720", "", true}},
         18720s,
         true,
         five_min,
         go,
         0s,
         false},
        {"... a wait within the maximum is waited",
         {{0s, 200, "0", "60", "", true}},
         0ms,
         true,
         five_min,
         wait,
         60s,
         true},
        {"... and an answer with pulls left ends it",
         {{0s, 200, "0", "18720", "", true}, {1s, 200, "7", "", "", true}},
         2000ms,
         true,
         five_min,
         go,
         0s,
         false},
        {"Docker Hub's 429 (no reset, no Retry-After) holds nothing back",
         {hub_429},
         0ms,
         true,
         five_min,
         go,
         0s,
         false},
        {"Docker Hub's Remaining 0 on a 200 holds nothing back",
         {hub_200},
         0ms,
         true,
         five_min,
         go,
         0s,
         false},
        {"a window of 0 is unknown, not used up",
         {{0s, 200, "0;w=0", "", "", true}},
         0ms,
         true,
         five_min,
         go,
         0s,
         false},
        {"a 429 for the quota with only RateLimit-Reset holds pulls back until the reset",
         {{0s, 429, "0", "120", "", true}},
         0ms,
         true,
         five_min,
         wait,
         120s,
         true},
        {"... not other requests (HEADs are not pulls)",
         {{0s, 429, "0", "18720", "", true}},
         0ms,
         false,
         five_min,
         go,
         0s,
         false},
        {"... unless one of them was refused for it",
         {{0s, 429, "0", "120", "", false}},
         0ms,
         false,
         five_min,
         wait,
         120s,
         true},
        {"a 429 with RateLimit-Reset for another limit holds back everything",
         {{0s, 429, "5", "60", "", true}},
         0ms,
         false,
         five_min,
         wait,
         60s,
         false},
        {"Retry-After wins over RateLimit-Reset for the pause",
         {{0s, 429, "0", "120", "2", true}},
         0ms,
         false,
         five_min,
         wait,
         2s,
         true},
        {"... while pulls wait for the reset",
         {{0s, 429, "0", "120", "2", true}},
         0ms,
         true,
         five_min,
         wait,
         120s,
         true},
        {"a 429 asking for an hour is refused: not a quota",
         {{0s, 429, "", "", "3600", true}},
         0ms,
         false,
         five_min,
         refuse,
         3600s,
         false},
        {"... unless the maximum wait allows it",
         {{0s, 429, "", "", "3600", true}},
         0ms,
         false,
         2h,
         wait,
         3600s,
         false},
        {"a Retry-After of more than the 10 minutes a retry waits is kept whole",
         {{0s, 429, "", "", "7200", true}},
         0ms,
         false,
         3h,
         wait,
         7200s,
         false},
        {"a 503 with Retry-After pauses every request",
         {{0s, 503, "", "", "2", true}},
         0ms,
         false,
         five_min,
         wait,
         2s,
         false},
        {"a 503 without Retry-After holds nothing back",
         {{0s, 503, "", "30", "", true}},
         0ms,
         false,
         five_min,
         go,
         0s,
         false},
        {"a 429 without any header holds nothing back",
         {{0s, 429, "", "", "", true}},
         0ms,
         false,
         five_min,
         go,
         0s,
         false},
        {"Retry-After as an HTTP date",
         {{0s, 429, "", "", "Sat, 05 Dec 2026 15:31:30 GMT", true}},
         0ms,
         false,
         five_min,
         wait,
         30s,
         false},
        {"Retry-After: 0 holds nothing back",
         {{0s, 429, "0", "", "0", true}},
         0ms,
         true,
         five_min,
         go,
         0s,
         false},
        {"a maximum wait of 0 refuses every wait", {ietf_429}, 0ms, false, 0ms, refuse, 1s, true},
        {"a shorter pause does not cut a longer one short",
         {{0s, 429, "", "", "10", true}, {1s, 429, "", "", "1", true}},
         3000ms,
         false,
         five_min,
         wait,
         10s,
         false},
        {"a later pause extends it",
         {{0s, 429, "", "", "2", true}, {1s, 429, "", "", "5", true}},
         3000ms,
         false,
         five_min,
         wait,
         6s,
         false},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        rate_limit_state state;
        for (const auto& a : r.answers)
            state.observe(a.status, {a.remaining, a.reset, a.retry_after}, a.pull, t0 + a.at);
        auto verdict = admit(state, r.pull, t0 + r.asked_at, r.max_wait);
        CHECK(verdict.action == r.action);
        if (r.action == go) continue;
        CHECK(verdict.until == t0 + r.until);
        CHECK(verdict.quota == r.quota);
    }
}

TEST_CASE("a refusal says when the limit ends, and how long the client would have waited") {
    rate_limit_state state;
    state.observe(429, {"0", "18720", ""}, true, t0);
    auto verdict = admit(state, true, t0, 5min);
    REQUIRE(verdict.action == rate_limit_action::refuse);
    CHECK(refusal_message("docker.io", verdict, t0, 5min) ==
          "pull limit of docker.io used up; it resets in 5h 12m (at 2026-12-05T20:43:00Z), later than the "
          "maximum wait of 5m; raise the maximum wait to wait for it, or run again then");

    rate_limit_state asked;
    asked.observe(503, {"", "", "3600"}, false, t0);
    auto pause = admit(asked, false, t0 + 30s, 5min);
    REQUIRE(pause.action == rate_limit_action::refuse);
    CHECK(
        refusal_message("quay.io", pause, t0 + 30s, 5min) ==
        "quay.io asked to wait before further requests; it takes them again in 59m 30s (at "
        "2026-12-05T16:31:00Z), later than the maximum wait of 5m; raise the maximum wait to wait for it, or "
        "run again then");
}
