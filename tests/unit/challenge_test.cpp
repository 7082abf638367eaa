#include "libregistry/core/challenge.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

using namespace libregistry;

namespace {

using param_map = std::map<std::string, std::string>;

struct expected_challenge {
    std::string scheme;
    param_map params;
};

struct valid_case {
    std::string name;
    std::string header;
    std::vector<expected_challenge> expected;
};

} // namespace

TEST_CASE("parse_www_authenticate accepts well-formed headers") {
    const std::vector<valid_case> cases{
        {"docker hub bearer",
         R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull")",
         {{"bearer",
           {{"realm", "https://auth.docker.io/token"},
            {"service", "registry.docker.io"},
            {"scope", "repository:library/alpine:pull"}}}}},
        {"basic with realm", R"(Basic realm="Registry Realm")", {{"basic", {{"realm", "Registry Realm"}}}}},
        {"basic with no parameters", "Basic", {{"basic", {}}}},
        {"scheme is case-insensitive", "BASIC", {{"basic", {}}}},
        {"parameter names are lower-cased",
         R"(bEaReR Realm="r",SERVICE="s")",
         {{"bearer", {{"realm", "r"}, {"service", "s"}}}}},
        {"values keep their case",
         R"(Bearer realm="HTTPS://Auth/Token")",
         {{"bearer", {{"realm", "HTTPS://Auth/Token"}}}}},
        {"two challenges",
         R"(Bearer realm="a",service="b", Basic realm="c")",
         {{"bearer", {{"realm", "a"}, {"service", "b"}}}, {"basic", {{"realm", "c"}}}}},
        {"basic without parameters then bearer",
         R"(Basic, Bearer realm="x")",
         {{"basic", {}}, {"bearer", {{"realm", "x"}}}}},
        {"three challenges with token68 in the middle",
         R"(Negotiate, NTLM abc+/==, Bearer realm="r")",
         {{"negotiate", {}}, {"ntlm", {}}, {"bearer", {{"realm", "r"}}}}},
        {"token68 alone", "Negotiate YIIBhgYGKwYBBQUCoIIBejCCAXagMDAu==", {{"negotiate", {}}}},
        // RFC 7235 section 2.1: `realm=` alone is a token68, not a parameter with no value.
        {"token68 that looks like a parameter", "Bearer realm=", {{"bearer", {}}}},
        {"token68 with trailing whitespace", "Negotiate abc=  ", {{"negotiate", {}}}},
        {"comma inside quoted string",
         R"(Bearer scope="repository:a:pull,push",realm="r")",
         {{"bearer", {{"scope", "repository:a:pull,push"}, {"realm", "r"}}}}},
        {"escaped quote and backslash",
         R"(Bearer realm="a\"b\\c\d")",
         {{"bearer", {{"realm", R"(a"b\cd)"}}}}},
        {"empty quoted value", R"(Bearer realm="")", {{"bearer", {{"realm", ""}}}}},
        {"unquoted token value",
         "Bearer realm=abc,error=insufficient_scope",
         {{"bearer", {{"realm", "abc"}, {"error", "insufficient_scope"}}}}},
        {"unquoted URL value tolerated",
         "Bearer realm=https://auth.example/token?x=1",
         {{"bearer", {{"realm", "https://auth.example/token?x=1"}}}}},
        {"whitespace around equals and commas",
         "  Bearer   realm = \"r\" ,\tservice\t=\t\"s\"  ",
         {{"bearer", {{"realm", "r"}, {"service", "s"}}}}},
        {"empty list elements are ignored",
         R"(, ,Basic realm="a",, ,Bearer realm="b",)",
         {{"basic", {{"realm", "a"}}}, {"bearer", {{"realm", "b"}}}}},
        {"tab after scheme", "Bearer\trealm=\"r\"", {{"bearer", {{"realm", "r"}}}}},
        {"insufficient scope",
         R"(Bearer realm="r",error="insufficient_scope",scope="repository:a:push")",
         {{"bearer", {{"realm", "r"}, {"error", "insufficient_scope"}, {"scope", "repository:a:push"}}}}},
        {"non-ascii in quoted string",
         "Basic realm=\"caf\xc3\xa9\"",
         {{"basic", {{"realm", "caf\xc3\xa9"}}}}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        auto parsed = parse_www_authenticate(c.header);
        REQUIRE_MESSAGE(parsed.has_value(), parsed.error().message);
        REQUIRE(parsed->size() == c.expected.size());
        for (std::size_t i = 0; i < c.expected.size(); ++i) {
            CHECK((*parsed)[i].scheme == c.expected[i].scheme);
            CHECK((*parsed)[i].params == c.expected[i].params);
        }
    }
}

TEST_CASE("parse_www_authenticate rejects malformed headers and says why") {
    struct invalid_case {
        std::string name;
        std::string header;
        std::string message_part;
    };
    const std::vector<invalid_case> cases{
        {"empty", "", "no challenge"},
        {"only separators", " , ,", "no challenge"},
        {"unterminated quote", R"(Bearer realm="abc)", "unterminated quoted string"},
        {"escape at end", R"(Bearer realm="abc\)", "unterminated quoted string"},
        {"missing equals", R"(Bearer realm "x")", "expected '=' after parameter \"realm\""},
        {"missing value", R"(Bearer a="b",realm=)", "expected a parameter value"},
        {"missing value before comma", R"(Bearer a="b",realm=,service=x)", "expected a parameter value"},
        {"parameter after token68", "Bearer realm=,service=x", "unexpected character after auth scheme"},
        {"duplicate parameter", R"(Bearer realm="a",REALM="b")", "duplicate parameter \"realm\""},
        {"junk after value", R"(Bearer realm="a" service="b")", "expected ','"},
        {"scheme is not a token", R"("Bearer" realm="x")", "expected an auth scheme"},
        {"bad character after scheme", R"(Bearer/x realm="a")", "unexpected character after auth scheme"},
        {"equals as scheme", "=foo", "expected an auth scheme"},
        {"newline in quoted string", "Bearer realm=\"a\nb\"", "control character"},
        {"NUL in quoted string", std::string("Bearer realm=\"a\0b\"", 18), "control character"},
        {"parameter name missing", R"(Bearer ="x")", "expected a parameter name"},
        {"quote in unquoted value", R"(Bearer realm=ab"c")", "expected ','"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        auto parsed = parse_www_authenticate(c.header);
        REQUIRE_FALSE(parsed.has_value());
        CHECK(parsed.error().code == errc::bad_response);
        CHECK_MESSAGE(parsed.error().message.find(c.message_part) != std::string::npos,
                      parsed.error().message);
        CHECK(parsed.error().message.find("WWW-Authenticate") != std::string::npos);
    }
}

TEST_CASE("challenge::param is case-insensitive and empty when absent") {
    auto parsed = parse_www_authenticate(R"(Bearer Realm="r")");
    REQUIRE(parsed.has_value());
    CHECK(parsed->front().param("realm") == "r");
    CHECK(parsed->front().param("REALM") == "r");
    CHECK(parsed->front().param("service").empty());
}

TEST_CASE("is_insufficient_scope") {
    struct row {
        std::string header;
        bool expected;
    };
    const std::vector<row> rows{
        {R"(Bearer realm="r",error="insufficient_scope")", true},
        {R"(BEARER realm="r",ERROR=insufficient_scope)", true},
        {R"(Bearer realm="r",error="invalid_token")", false},
        {R"(Bearer realm="r")", false},
        {R"(Basic error="insufficient_scope")", false},
        {R"(Bearer error="Insufficient_Scope")", false},
    };
    for (const auto& r : rows) {
        CAPTURE(r.header);
        auto parsed = parse_www_authenticate(r.header);
        REQUIRE(parsed.has_value());
        CHECK(is_insufficient_scope(parsed->front()) == r.expected);
    }
}

TEST_CASE("parse_www_authenticate survives random garbage") {
    // Not a fuzzer, but cheap insurance that no input crashes or hangs the parser.
    std::mt19937 rng(12345);
    const std::string alphabet = "Bearer basic realm=\"\\,; \t=abc/+-_.~\x01\xff";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::uniform_int_distribution<std::size_t> length(0, 40);
    std::size_t accepted = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string header;
        const auto n = length(rng);
        for (std::size_t j = 0; j < n; ++j)
            header.push_back(alphabet[pick(rng)]);
        auto parsed = parse_www_authenticate(header);
        if (parsed) {
            ++accepted;
            CHECK_FALSE(parsed->empty());
        } else {
            CHECK(parsed.error().code == errc::bad_response);
        }
    }
    CHECK(accepted > 0);
}
