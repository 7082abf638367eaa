// Durations on the command line and in messages (core/duration.hpp).
#include "libregistry/core/duration.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace libregistry;
using namespace std::chrono_literals;

TEST_CASE("parse_duration") {
    struct row {
        std::string text;
        std::optional<std::chrono::milliseconds> value;
    };
    const std::vector<row> rows{
        {"300", 300s},
        {"0", 0s},
        {"90s", 90s},
        {"5m", 5min},
        {"1h30m", 90min},
        {"2h 15m", 135min},
        {"1d", 24h},
        {"1M", 1min},
        {"30d", 720h},
        {"", std::nullopt},
        {"m", std::nullopt},
        {"5x", std::nullopt},
        {"1.5m", std::nullopt},
        {"-5", std::nullopt},
        {"30m1h", std::nullopt}, // largest unit first
        {"1m1m", std::nullopt},
        {"5m3", std::nullopt},
        {"31d", std::nullopt},
        {"99999999999999999999", std::nullopt},
    };
    for (const auto& r : rows) {
        CAPTURE(r.text);
        auto parsed = parse_duration(r.text);
        REQUIRE(parsed.has_value() == r.value.has_value());
        if (parsed) {
            CHECK(*parsed == *r.value);
        } else {
            CHECK(parsed.error().code == errc::invalid_argument);
            CHECK(parsed.error().message.find("\"" + r.text + "\" is not a duration") != std::string::npos);
        }
    }
}

TEST_CASE("format_duration: the two largest units, rounded up to a second") {
    CHECK(format_duration(0ms) == "0s");
    CHECK(format_duration(-5s) == "0s");
    CHECK(format_duration(1ms) == "1s");
    CHECK(format_duration(45s) == "45s");
    CHECK(format_duration(90s) == "1m 30s");
    CHECK(format_duration(5min) == "5m");
    CHECK(format_duration(3600s) == "1h");
    CHECK(format_duration(18720s) == "5h 12m");
    CHECK(format_duration(18725s) == "5h 12m");
    CHECK(format_duration(26h) == "1d 2h");
    CHECK(format_duration(48h + 59s) == "2d");
}
