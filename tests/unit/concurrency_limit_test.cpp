// The adaptive limit of calls into one registry (core/concurrency_limit.hpp): growth, halving, the cap, the
// floor of 1, one decrease per window, recovery.
#include "libregistry/core/concurrency_limit.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace libregistry;
using namespace std::chrono_literals;

namespace {

// One step of a scenario.
struct step {
    enum kind {
        window,      ///< `limit` calls start at once and finish, each taking `latency`
        window_bare, ///< the same, without latency samples (whole blob transfers)
        idle,        ///< `limit` calls one after the other: the limit is never in full use
        throttle,    ///< the registry throttles a request
    } what;
    std::chrono::microseconds latency{0};
};

step w(std::chrono::microseconds latency) {
    return {step::window, latency};
}
const step bare{step::window_bare, {}};
const step idle{step::idle, {}};
const step throttle{step::throttle, {}};

void apply(concurrency_limit& c, const step& s) {
    const auto n = c.limit();
    switch (s.what) {
    case step::window:
    case step::window_bare:
        for (std::size_t i = 0; i < n; ++i)
            REQUIRE(c.try_start());
        CHECK_FALSE(c.try_start()); // the limit holds
        for (std::size_t i = 0; i < n; ++i)
            c.finish(s.what == step::window ? std::optional(s.latency) : std::nullopt);
        break;
    case step::idle:
        for (std::size_t i = 0; i < n; ++i) {
            REQUIRE(c.try_start());
            c.finish(1ms);
        }
        break;
    case step::throttle:
        c.throttled();
        break;
    }
}

} // namespace

TEST_CASE("concurrency_limit: scenarios") {
    struct row {
        std::string name;
        concurrency_settings settings;
        std::vector<step> steps;
        std::vector<std::size_t> limits; ///< after each step
        std::size_t decreases;
        std::size_t max;
    };
    std::vector<row> rows{
        {"doubles while latency holds, up to the cap",
         {8, 64},
         {w(1ms), w(1ms), w(1ms), w(1ms)},
         {16, 32, 64, 64},
         0,
         64},
        {"a cap between doublings is reached, not passed", {8, 12}, {w(1ms), w(1ms)}, {12, 12}, 0, 12},
        {"a throttle halves, then growth is additive",
         {8, 64},
         {w(1ms), throttle, w(1ms), w(1ms), w(1ms)},
         {16, 8, 8, 9, 10},
         1,
         16},
        {"one decrease per window: a second throttle in the same window changes nothing",
         {16, 64},
         {throttle, throttle, throttle, w(1ms), throttle},
         {8, 8, 8, 8, 4},
         2,
         16},
        {"never below 1", {2, 64}, {throttle, w(1ms), throttle, w(1ms), throttle}, {1, 1, 1, 1, 1}, 1, 2},
        {"rising latency halves, once per window",
         {8, 64},
         {w(1ms), w(50ms), w(50ms), w(1ms)},
         {16, 8, 4, 5},
         2,
         16},
        {"latency within 2x the floor plus 25 ms holds",
         {8, 64},
         {w(1ms), w(26ms), w(26ms)},
         {16, 32, 64},
         0,
         64},
        {"latency just above 2x the floor plus 25 ms halves", {8, 64}, {w(1ms), w(28ms)}, {16, 8}, 1, 16},
        {"a limit never in full use does not grow", {8, 64}, {idle, idle, idle}, {8, 8, 8}, 0, 8},
        {"windows without latency samples grow, and throttles still halve",
         {4, 16},
         {bare, bare, throttle, bare},
         {8, 16, 8, 8},
         1,
         16},
        {"recovery after a throttle: one more per clean window",
         {16, 64},
         {throttle, w(2ms), w(2ms), w(2ms), w(2ms)},
         {8, 8, 9, 10, 11},
         1,
         16},
        {"at 1, a slower path becomes the new floor instead of a decrease",
         {1, 64},
         {w(1ms), throttle, w(1ms), w(100ms), w(100ms), w(100ms)},
         {2, 1, 1, 1, 2, 3},
         1,
         3},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        REQUIRE(r.steps.size() == r.limits.size());
        concurrency_limit c(r.settings);
        CHECK(c.limit() == r.settings.start);
        for (std::size_t i = 0; i < r.steps.size(); ++i) {
            CAPTURE(i);
            apply(c, r.steps[i]);
            CHECK(c.limit() == r.limits[i]);
        }
        const auto s = c.summary();
        CHECK(s.start == r.settings.start);
        CHECK(s.cap == r.settings.cap);
        CHECK(s.final == r.limits.back());
        CHECK(s.decreases == r.decreases);
        CHECK(s.max == r.max);
        CHECK(c.in_flight() == 0);
    }
}

TEST_CASE("concurrency_limit: a burst sent at the old limit halves it once per window") {
    concurrency_limit c({8, 64});
    for (int i = 0; i < 8; ++i)
        REQUIRE(c.try_start());
    c.throttled();
    CHECK(c.limit() == 4);
    CHECK_FALSE(c.try_start()); // 8 in flight, 4 allowed
    // The rest of the burst comes back throttled as well: still one decrease in this window.
    for (int i = 0; i < 7; ++i)
        c.throttled();
    for (int i = 0; i < 4; ++i)
        c.finish(1ms);
    CHECK(c.limit() == 4);
    CHECK(c.summary().decreases == 1);
    CHECK_FALSE(c.try_start()); // still 4 in flight
    // A full window has passed: the next throttle halves again.
    c.throttled();
    CHECK(c.limit() == 2);
    CHECK(c.summary().decreases == 2);
    for (int i = 0; i < 4; ++i)
        c.finish(std::nullopt);
    CHECK(c.in_flight() == 0);
    CHECK(c.try_start());
}

TEST_CASE("concurrency_limit: settings") {
    CHECK(concurrency_limit({0, 64}).limit() == 1);
    CHECK(concurrency_limit({8, 2}).summary().cap == 8);
    CHECK(capped({8, 64}, 0) == concurrency_settings{8, 64});
    CHECK(capped({8, 64}, 16) == concurrency_settings{8, 16});
    CHECK(capped({8, 64}, 4) == concurrency_settings{4, 4});
    CHECK(capped({4, 16}, 100) == concurrency_settings{4, 100});
}
