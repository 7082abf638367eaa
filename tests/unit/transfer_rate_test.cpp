// The minimum transfer rate: the floor's bookkeeping as a table of waits, and the rate and duration syntax.
#include "libregistry/core/transfer_rate.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace libregistry;
using namespace std::chrono_literals;

namespace {

min_transfer_rate limit(std::uint64_t bytes_per_second, std::chrono::milliseconds window) {
    min_transfer_rate l;
    l.bytes_per_second = bytes_per_second;
    l.window = window;
    return l;
}

} // namespace

TEST_CASE("rate_floor: each window of waiting must move rate × window bytes; a stall is rate 0") {
    struct wait {
        std::uint64_t bytes;
        std::chrono::milliseconds waited;
        bool holds;                          ///< what record() answers
        std::chrono::milliseconds allowance; ///< afterwards
    };
    struct row {
        const char* name;
        std::vector<wait> waits;
    };
    // 1000 B/s over 1 s: a stretch ends once it moved 1000 bytes, and breaks when 1 s of waiting did not.
    const std::vector<row> rows{
        {"fast reads never come near the floor",
         {{64 * 1024, 5ms, true, 1000ms}, {64 * 1024, 5ms, true, 1000ms}, {100, 1ms, true, 999ms}}},
        {"a trickle of 100 B every 100 ms (1000 B/s exactly) holds",
         {{100, 100ms, true, 900ms}, {800, 800ms, true, 100ms}, {100, 100ms, true, 1000ms}}},
        {"a trickle of 10 B every 100 ms breaks after the window",
         {{10, 100ms, true, 900ms}, {80, 800ms, true, 100ms}, {10, 100ms, false, 0ms}}},
        {"a stall: one wait that reaches the allowance with nothing",
         {{500, 200ms, true, 800ms}, {0, 800ms, false, 0ms}}},
        {"a pause that the bytes after it make up for",
         {{0, 900ms, true, 100ms}, {1000, 50ms, true, 1000ms}}},
        {"bytes beyond the quota do not carry over into the next stretch",
         {{5000, 10ms, true, 1000ms}, {0, 999ms, true, 1ms}, {0, 1ms, false, 0ms}}},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        rate_floor floor(limit(1000, 1s));
        for (const auto& w : r.waits) {
            CHECK(floor.record(w.bytes, w.waited) == w.holds);
            REQUIRE(floor.allowance().has_value());
            CHECK(*floor.allowance() == w.allowance);
        }
    }
}

TEST_CASE("rate_floor: the message says the rate seen, the minimum and the window") {
    rate_floor floor(limit(1024, 60s));
    CHECK(floor.record(720, 30s));
    CHECK_FALSE(floor.record(0, 30s));
    CHECK(floor.describe("the body arrived") ==
          "the body arrived at 12 B/s, below the minimum of 1 KiB/s over 1m");

    rate_floor stalled(limit(64 * 1024, 1500ms));
    CHECK_FALSE(stalled.record(0, 1500ms));
    CHECK(stalled.describe("was taken") == "was taken at 0 B/s, below the minimum of 64 KiB/s over 1.5s");
}

TEST_CASE("rate_floor: a rate of 0 (or no window) is no minimum at all") {
    for (const auto& l : {limit(0, 60s), limit(1024, 0ms)}) {
        rate_floor floor(l);
        CHECK_FALSE(floor.allowance().has_value());
        CHECK(floor.record(0, 24h));
        CHECK(floor.record(1, 24h));
    }
}

TEST_CASE("format_rate") {
    CHECK(format_rate(0) == "0 B/s");
    CHECK(format_rate(12.4) == "12 B/s");
    CHECK(format_rate(1023) == "1023 B/s");
    CHECK(format_rate(1024) == "1 KiB/s");
    CHECK(format_rate(1536) == "1.5 KiB/s");
    CHECK(format_rate(64 * 1024) == "64 KiB/s");
    CHECK(format_rate(2.5 * 1024 * 1024) == "2.5 MiB/s");
}

TEST_CASE("parse_rate: a number, a binary or decimal unit, an optional /s") {
    struct row {
        const char* text;
        std::uint64_t bytes;
    };
    for (const auto& r : std::vector<row>{{"0", 0},
                                          {"1000", 1000},
                                          {"512B/s", 512},
                                          {"512 B/s", 512},
                                          {"1KiB/s", 1024},
                                          {"1kib", 1024},
                                          {"1.5KiB/s", 1536},
                                          {"2MiB/s", 2 * 1024 * 1024},
                                          {"1GiB/s", 1024ULL * 1024 * 1024},
                                          {"10kB/s", 10'000},
                                          {"2.5MB/s", 2'500'000},
                                          {" 1 GB/s ", 1'000'000'000}}) {
        CAPTURE(r.text);
        auto parsed = parse_rate(r.text);
        REQUIRE(parsed.has_value());
        CHECK(*parsed == r.bytes);
    }
    for (const char* bad :
         {"", "/s", "fast", "1x/s", "-1KiB/s", "1 K/s", "1.KiB/s", "1KiB/min", "1e3", "2TiB/s"}) {
        CAPTURE(bad);
        auto parsed = parse_rate(bad);
        REQUIRE(parsed.has_error());
        CHECK(parsed.error().code == errc::invalid_argument);
        CHECK(parsed.error().message.find(std::string("\"") + bad + "\"") == 0);
    }
}
