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
        {"1.5m", 90s},
        {"0.5s", 500ms},
        {"2.5", 2500ms},
        {"1500ms", 1500ms},
        {"10min", 10min},
        {"1h30m15s", 90min + 15s},
        {"1h 30min 15s 20ms", 90min + 15s + 20ms},
        {" 60S ", 60s},
        {"2 s", std::nullopt}, // a unit belongs to its number
        {"1h30", std::nullopt},
        {"1..5s", std::nullopt},
        {"1.s", std::nullopt},
        {"10min5m", std::nullopt}, // m and min are one unit
        {"101d", std::nullopt},
        {"2500h", std::nullopt},
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

TEST_CASE("format_duration: below a minute as it is, above it the two largest units rounded up to a second") {
    CHECK(format_duration(0ms) == "0s");
    CHECK(format_duration(-5s) == "0s");
    CHECK(format_duration(1ms) == "1ms");
    CHECK(format_duration(250ms) == "250ms");
    CHECK(format_duration(1s) == "1s");
    CHECK(format_duration(1500ms) == "1.5s");
    CHECK(format_duration(45s) == "45s");
    CHECK(format_duration(60s) == "1m");
    CHECK(format_duration(60s + 1ms) == "1m 1s");
    CHECK(format_duration(90s) == "1m 30s");
    CHECK(format_duration(5min) == "5m");
    CHECK(format_duration(3600s) == "1h");
    CHECK(format_duration(18720s) == "5h 12m");
    CHECK(format_duration(18725s) == "5h 12m");
    CHECK(format_duration(26h) == "1d 2h");
    CHECK(format_duration(48h + 59s) == "2d");
}
