#include "libregistry/core/tag_version.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace libregistry;

TEST_CASE("parse_tag_version: which tags are versions, and which are semver") {
    struct version_case {
        std::string tag;
        bool version;
        bool semver;
        std::vector<std::string> numbers;
        std::vector<std::string> prerelease;
    };
    const version_case cases[] = {
        {"1.4.2", true, true, {"1", "4", "2"}, {}},
        {"v1.4.2", true, true, {"1", "4", "2"}, {}},
        {"1.25", true, true, {"1", "25"}, {}},
        {"7", true, true, {"7"}, {}},
        {"2.0.0-rc.1", true, true, {"2", "0", "0"}, {"rc", "1"}},
        {"v2.0.0-rc1", true, true, {"2", "0", "0"}, {"rc1"}},
        {"1.25-alpine", true, true, {"1", "25"}, {"alpine"}},
        // LabNow's date tags: leading zeros make them dotted numeric versions, not semver.
        {"2026.0722.0823-6e32668", true, false, {"2026", "722", "823"}, {"6e32668"}},
        {"2026.1022.1023-6e32668", true, true, {"2026", "1022", "1023"}, {"6e32668"}},
        {"1.2.3.4", true, false, {"1", "2", "3", "4"}, {}},
        {"01.2.3", true, false, {"1", "2", "3"}, {}},
        {"1.2.3-01", true, false, {"1", "2", "3"}, {"01"}},
        {"1.2.3-a_b", true, false, {"1", "2", "3"}, {"a_b"}},
        {"1.2.3-a..b", true, false, {"1", "2", "3"}, {"a", "", "b"}},
        {"latest", false, false, {}, {}},
        {"main", false, false, {}, {}},
        {"sha-6e32668", false, false, {}, {}},
        {"1.2.3a", false, false, {}, {}},
        {"1..2", false, false, {}, {}},
        {"1.2.", false, false, {}, {}},
        {"1.2.3-", false, false, {}, {}},
        {"v", false, false, {}, {}},
        {"V1.2", false, false, {}, {}},
        {"-1", false, false, {}, {}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.tag);
        const auto v = parse_tag_version(c.tag);
        REQUIRE(v.has_value() == c.version);
        if (!v) continue;
        CHECK(v->semver == c.semver);
        CHECK(v->numbers == c.numbers);
        CHECK(v->prerelease == c.prerelease);
    }
}

TEST_CASE("compare_versions: semver precedence and numeric fields, oldest first") {
    // Each tag is older than the next (semver.org item 11's example, then more).
    const std::vector<std::string> ascending = {
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "v1.0.1",
        "1.2",
        "1.9.0",
        "1.10.0",
        "1.10.0.1",
        "2",
        "10.0.0",
        "2026.0722.0823-6e32668",
        "2026.0722.0900-0a1b2c3",
        "2026.1022.0001-ffffff0",
        "99999999999999999999999.0",
    };
    for (std::size_t i = 0; i + 1 < ascending.size(); ++i) {
        CAPTURE(ascending[i]);
        CAPTURE(ascending[i + 1]);
        const auto a = parse_tag_version(ascending[i]);
        const auto b = parse_tag_version(ascending[i + 1]);
        REQUIRE(a.has_value());
        REQUIRE(b.has_value());
        CHECK(compare_versions(*a, *b) < 0);
        CHECK(compare_versions(*b, *a) > 0);
    }
    // Equal precedence: a missing field is 0, a leading `v` and leading zeros change nothing.
    const std::pair<std::string, std::string> equal[] = {
        {"1.25", "1.25.0"}, {"v1.2.3", "1.2.3"}, {"2026.0722", "2026.722"}, {"1.0.0-rc.01", "1.0.0-rc.1"}};
    for (const auto& [x, y] : equal) {
        const auto left = x; // clang 14 cannot capture a structured binding
        CAPTURE(left);
        CHECK(compare_versions(*parse_tag_version(x), *parse_tag_version(y)) == 0);
    }
}

TEST_CASE("semver ranges: what each form matches") {
    struct range_case {
        std::string range;
        std::vector<std::string> match;
        std::vector<std::string> no_match;
    };
    const range_case cases[] = {
        {">=1.4 <2",
         {"1.4.0", "v1.4.0", "1.4", "1.9.9", "1.10"},
         {"1.3.9", "2.0.0", "2.0.0-rc.1", "1.5.0-rc.1"}},
        {"1.x", {"1.0.0", "1.99.0", "1"}, {"0.9.0", "2.0.0"}},
        {"1.4.x", {"1.4.0", "1.4.7"}, {"1.5.0", "1.3.0"}},
        {"1.4", {"1.4.0", "1.4.7"}, {"1.5.0"}},
        {"=1.4.2", {"1.4.2", "v1.4.2"}, {"1.4.3"}},
        {"1.4.2", {"1.4.2"}, {"1.4.3"}},
        {">1.4", {"1.5.0"}, {"1.4.9"}},
        {">1.4.2", {"1.4.3"}, {"1.4.2"}},
        {"<=1.4", {"1.4.9", "0.1.0"}, {"1.5.0"}},
        {"<1.4", {"1.3.9"}, {"1.4.0"}},
        {"^1.4.2", {"1.4.2", "1.9.0"}, {"1.4.1", "2.0.0"}},
        {"^0.4.2", {"0.4.2", "0.4.9"}, {"0.5.0"}},
        {"^0.0.3", {"0.0.3"}, {"0.0.4"}},
        {"~1.4.2", {"1.4.2", "1.4.9"}, {"1.5.0", "1.4.1"}},
        {"~1", {"1.0.0", "1.9.9"}, {"2.0.0"}},
        {"<1.2 || >=3", {"1.1.9", "3.0.0", "4.1"}, {"1.2.0", "2.9.9"}},
        {">= 1.4  < 2", {"1.5.0"}, {"2.0.0"}},
        {"*", {"0.0.0", "9.9.9"}, {"1.0.0-rc.1", "latest"}},
        // A pre-release matches only a comparator with one on the same numbers.
        {">=2.0.0-rc.1 <3", {"2.0.0-rc.1", "2.0.0-rc.2", "2.0.0", "2.5.0"}, {"2.0.0-beta", "2.1.0-rc.1"}},
        // Dotted numeric versions that are not semver never match.
        {">=2026", {"2026.1022.1023"}, {"2026.0722.0823-6e32668", "2026.07.01"}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.range);
        const auto range = parse_semver_range(c.range);
        REQUIRE_MESSAGE(range.has_value(), range.error().message);
        for (const auto& tag : c.match) {
            CAPTURE(tag);
            const auto v = parse_tag_version(tag);
            CHECK((v && semver_matches(*range, *v)));
        }
        for (const auto& tag : c.no_match) {
            CAPTURE(tag);
            const auto v = parse_tag_version(tag);
            CHECK(!(v && semver_matches(*range, *v)));
        }
    }
}

TEST_CASE("semver ranges: errors say what is wrong") {
    const std::pair<std::string, std::string> cases[] = {
        {"", "an empty alternative"},
        {">=1.4 ||", "an empty alternative"},
        {"abc", "semver comparator \"abc\": expected MAJOR[.MINOR[.PATCH]]"},
        {">=1.2.3.4", "more than three fields"},
        {"1.x.3", "a number after a wildcard"},
        {"1.2-rc1", "a pre-release needs MAJOR.MINOR.PATCH"},
        {"1.2.3-01", "invalid pre-release"},
        {"<*", "matches nothing"},
        {"1.4 - 2", "semver comparator \"-\""},
    };
    for (const auto& [text, message] : cases) {
        const auto shown = text; // clang 14 cannot capture a structured binding
        CAPTURE(shown);
        const auto range = parse_semver_range(text);
        REQUIRE(!range.has_value());
        CHECK(range.error().code == make_error_code(errc::invalid_argument));
        CHECK_MESSAGE(range.error().message.find(message) != std::string::npos, range.error().message);
    }
}

TEST_CASE("created_of_config and parse_rfc3339") {
    using namespace std::chrono;
    const auto at = [](int y, unsigned m, unsigned d, int h, int mi, int s, int us = 0) {
        return sys_days{year{y} / month{m} / day{d}} + hours{h} + minutes{mi} + seconds{s} + microseconds{us};
    };
    struct time_case {
        std::string text;
        std::optional<sys_time<microseconds>> expected;
    };
    const time_case cases[] = {
        {"2026-07-22T08:23:00Z", at(2026, 7, 22, 8, 23, 0)},
        {"2026-07-22T08:23:00.123456789Z", at(2026, 7, 22, 8, 23, 0, 123456)},
        {"2026-07-22T08:23:00.5Z", at(2026, 7, 22, 8, 23, 0, 500000)},
        {"2026-07-22T10:23:00+02:00", at(2026, 7, 22, 8, 23, 0)},
        {"2026-07-22t06:23:00-02:00", at(2026, 7, 22, 8, 23, 0)},
        {"2026-07-22 08:23:00z", at(2026, 7, 22, 8, 23, 0)},
        {"2026-02-30T08:23:00Z", std::nullopt},
        {"2026-07-22T08:23:00", std::nullopt},
        {"2026-07-22T08:23:00.Z", std::nullopt},
        {"2026-07-22T08:23Z", std::nullopt},
        {"2026-07-22T25:00:00Z", std::nullopt},
        {"2026-07-22T08:23:00+0200", std::nullopt},
        {"", std::nullopt},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        CHECK(parse_rfc3339(c.text) == c.expected);
    }
    CHECK(created_of_config(R"({"created":"2026-07-22T08:23:00Z","os":"linux"})") ==
          at(2026, 7, 22, 8, 23, 0));
    CHECK(created_of_config(R"({"os":"linux"})") == std::nullopt);
    CHECK(created_of_config(R"({"created":5})") == std::nullopt);
    CHECK(created_of_config("not json") == std::nullopt);
}
