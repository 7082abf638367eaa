// RateLimit-Remaining values as registries send them.
#include "libregistry/core/rate_limit.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace libregistry;

TEST_CASE("parse_rate_limit_remaining") {
    struct row {
        std::string header;
        std::optional<long long> remaining;
        long long window;
    };
    std::vector<row> rows{
        {"76;w=21600", 76, 21600}, // Docker Hub
        {"0;w=21600", 0, 21600},   {"100", 100, 0},           {"5; w=60", 5, 60},
        {"", std::nullopt, 0},     {"many", std::nullopt, 0}, {"12abc;w=1", std::nullopt, 0},
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
