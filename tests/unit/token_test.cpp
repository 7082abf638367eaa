#include "libregistry/core/token.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace libregistry;
using namespace std::chrono_literals;

TEST_CASE("scope::str") {
    CHECK(scope{"repository", "library/alpine", {"pull"}}.str() == "repository:library/alpine:pull");
    CHECK(scope{"repository", "a/b", {"pull", "push"}}.str() == "repository:a/b:pull,push");
    CHECK(scope{"registry", "catalog", {"*"}}.str() == "registry:catalog:*");
    CHECK(pull_scope("x/y").str() == "repository:x/y:pull");
    CHECK(push_scope("x/y").str() == "repository:x/y:pull,push");
    CHECK(push_scope("x/y").type == "repository");
}

TEST_CASE("normalize_scopes merges, sorts and dedupes") {
    struct row {
        std::string name;
        std::vector<scope> input;
        std::vector<std::string> expected;
    };
    const std::vector<row> rows{
        {"empty", {}, {}},
        {"one", {pull_scope("a")}, {"repository:a:pull"}},
        {"same repository merged",
         {pull_scope("a"), scope{"repository", "a", {"push"}}},
         {"repository:a:pull,push"}},
        {"actions sorted",
         {scope{"repository", "a", {"push", "delete", "pull"}}},
         {"repository:a:delete,pull,push"}},
        {"duplicates removed",
         {pull_scope("a"), pull_scope("a"), push_scope("a")},
         {"repository:a:pull,push"}},
        {"scopes sorted by name",
         {pull_scope("b"), push_scope("a")},
         {"repository:a:pull,push", "repository:b:pull"}},
        {"type separates scopes",
         {scope{"repository", "catalog", {"pull"}}, scope{"registry", "catalog", {"*"}}},
         {"registry:catalog:*", "repository:catalog:pull"}},
        {"empty action strings dropped", {scope{"repository", "a", {"", "pull", ""}}}, {"repository:a:pull"}},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        std::vector<std::string> got;
        for (const auto& s : normalize_scopes(r.input))
            got.push_back(s.str());
        CHECK(got == r.expected);
    }
}

TEST_CASE("scopes_key is independent of order and duplication") {
    const auto key = scopes_key({push_scope("dst"), pull_scope("src")});
    CHECK(key == "repository:dst:pull,push repository:src:pull");
    CHECK(scopes_key({pull_scope("src"), scope{"repository", "dst", {"push"}}, pull_scope("dst")}) == key);
    CHECK(scopes_key({}) == "");
    CHECK(scopes_key({pull_scope("src")}) != key);
}

TEST_CASE("parse_token_response") {
    struct row {
        std::string name;
        std::string body;
        std::string value;
        std::chrono::seconds expires_in;
        std::string refresh;
    };
    const std::vector<row> rows{
        {"token only", R"({"token":"abc"})", "abc", 60s, ""},
        {"access_token only", R"({"access_token":"xyz"})", "xyz", 60s, ""},
        {"token preferred", R"({"token":"t","access_token":"a"})", "t", 60s, ""},
        {"empty token falls back", R"({"token":"","access_token":"a"})", "a", 60s, ""},
        {"expires_in honoured", R"({"token":"t","expires_in":300})", "t", 300s, ""},
        {"expires_in below minimum", R"({"token":"t","expires_in":10})", "t", 60s, ""},
        {"expires_in zero", R"({"token":"t","expires_in":0})", "t", 60s, ""},
        {"expires_in negative", R"({"token":"t","expires_in":-5})", "t", 60s, ""},
        {"expires_in fractional", R"({"token":"t","expires_in":90.9})", "t", 90s, ""},
        {"expires_in string ignored", R"({"token":"t","expires_in":"300"})", "t", 60s, ""},
        {"expires_in absurd is capped", R"({"token":"t","expires_in":1e300})", "t", 86400s, ""},
        {"refresh token", R"({"access_token":"a","refresh_token":"r","expires_in":3600})", "a", 3600s, "r"},
        {"extra fields ignored", R"({"token":"t","issued_at":"2024-01-01T00:00:00Z","scope":"x"})", "t", 60s,
         ""},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        auto t = parse_token_response(r.body);
        REQUIRE_MESSAGE(t.has_value(), t.error().message);
        CHECK(t->value == r.value);
        CHECK(t->expires_in == r.expires_in);
        CHECK(t->refresh_token == r.refresh);
    }
}

TEST_CASE("parse_token_response errors never echo the body") {
    struct row {
        std::string name;
        std::string body;
        std::string message_part;
    };
    const std::vector<row> rows{
        {"not JSON", "secret-token-not-json", "not valid JSON"},
        {"truncated", R"({"token":"secret-token)", "not valid JSON"},
        {"array", R"(["secret-token"])", "not a JSON object"},
        {"no token", R"({"refresh_token":"secret-token"})", "\"token\" or \"access_token\""},
        {"token wrong type", R"({"token":123,"details":"secret-token"})", "\"token\" or \"access_token\""},
        {"empty token", R"({"token":"","access_token":"","x":"secret-token"})", "empty"},
        {"empty body", "", "not valid JSON"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        auto t = parse_token_response(r.body);
        REQUIRE_FALSE(t.has_value());
        CHECK(t.error().code == errc::bad_response);
        CHECK_MESSAGE(t.error().message.find(r.message_part) != std::string::npos, t.error().message);
        CHECK(t.error().message.find("secret-token") == std::string::npos);
    }
}

TEST_CASE("token_cache expiry margin") {
    const auto t0 = token_cache::clock::time_point{} + 1000h;
    struct row {
        std::chrono::seconds expires_in;
        std::chrono::milliseconds
            valid_until; ///< last moment the cached token is still returned is before this
    };
    const std::vector<row> rows{
        {60s, 55s},     // 10% = 6 s > 5 s: 5 s margin
        {300s, 295s},   // 5 s margin
        {30s, 27s},     // 10% = 3 s
        {45s, 40500ms}, // 10% = 4.5 s
        {0s, 0s},       // unusable immediately
    };
    for (const auto& r : rows) {
        CAPTURE(r.expires_in.count());
        token_cache cache;
        cache.put("quay.io", {pull_scope("a")}, token{"v", "", r.expires_in}, t0);
        if (r.valid_until > 0s) {
            CHECK(cache.get("quay.io", {pull_scope("a")}, t0) == "v");
            CHECK(cache.get("quay.io", {pull_scope("a")}, t0 + r.valid_until - 1ms) == "v");
        }
        CHECK_FALSE(cache.get("quay.io", {pull_scope("a")}, t0 + r.valid_until).has_value());
    }
}

TEST_CASE("token_cache keys by registry and scope set") {
    const auto now = token_cache::clock::time_point{} + 1h;
    token_cache cache;
    cache.put("quay.io", {push_scope("dst"), pull_scope("src")}, token{"copy", "", 300s}, now);
    cache.put("ghcr.io", {pull_scope("src")}, token{"ghcr", "", 300s}, now);

    CHECK(cache.get("quay.io", {pull_scope("src"), push_scope("dst")}, now) == "copy");
    CHECK(cache.get("quay.io", {pull_scope("src"), scope{"repository", "dst", {"push", "pull"}}}, now) ==
          "copy");
    CHECK(cache.get("ghcr.io", {pull_scope("src")}, now) == "ghcr");
    CHECK_FALSE(cache.get("ghcr.io", {push_scope("src")}, now).has_value());
    CHECK_FALSE(cache.get("docker.io", {pull_scope("src")}, now).has_value());

    cache.put("ghcr.io", {pull_scope("src")}, token{"ghcr2", "", 300s}, now);
    CHECK(cache.get("ghcr.io", {pull_scope("src")}, now) == "ghcr2");

    cache.invalidate("quay.io", {pull_scope("src"), push_scope("dst")});
    CHECK_FALSE(cache.get("quay.io", {push_scope("dst"), pull_scope("src")}, now).has_value());
    CHECK(cache.get("ghcr.io", {pull_scope("src")}, now) == "ghcr2");
    cache.invalidate("nowhere", {pull_scope("src")});
}

TEST_CASE("token_cache drops expired entries when storing") {
    const auto t0 = token_cache::clock::time_point{} + 1h;
    token_cache cache;
    cache.put("r", {pull_scope("old")}, token{"old", "", 60s}, t0);
    cache.put("r", {pull_scope("new")}, token{"new", "", 60s}, t0 + 120s);
    CHECK(cache.get("r", {pull_scope("new")}, t0 + 121s) == "new");
    // Going back in time shows the old entry is gone, not merely expired.
    CHECK_FALSE(cache.get("r", {pull_scope("old")}, t0).has_value());
}
