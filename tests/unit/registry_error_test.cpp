#include <libregistry/core/redact.hpp>
#include <libregistry/core/registry_error.hpp>

#include <doctest/doctest.h>

using namespace libregistry;
using namespace std::chrono_literals;

TEST_CASE("registry error bodies become codes and readable messages") {
    struct row {
        int status;
        std::string body;
        errc code;
        std::string expected;
    };
    std::vector<row> rows{
        {404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]})",
         errc::manifest_unknown, "MANIFEST_UNKNOWN: manifest unknown ({\"Tag\":\"x\"})"},
        {404, "", errc::not_found, "registry answered 404 Not Found"},
        {401, R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})",
         errc::unauthorized, "check the credentials"},
        {403, R"({"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]})",
         errc::denied, "lack permission"},
        {429, "<html><body><h1>Too Many Requests</h1></body></html>", errc::too_many_requests,
         "HTML page: Too Many Requests"},
        {503, "upstream connect error", errc::server_error,
         "503 Service Unavailable: upstream connect error"},
        {400, R"({"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match"}]})",
         errc::digest_invalid, "DIGEST_INVALID"},
        {400, R"({"errors":"not a list"})", errc::bad_response,
         "400 Bad Request: {\"errors\":\"not a list\"}"},
        {500, std::string(1000, 'x'), errc::server_error, "..."},
    };
    for (const auto& r : rows) {
        CAPTURE(r.body);
        auto e = registry_error(r.status, r.body, "", "GET https://reg.example/v2/a/manifests/b");
        CHECK(e.code == r.code);
        CHECK(e.http_status == r.status);
        CHECK(e.message.find("GET https://reg.example/v2/a/manifests/b") == 0);
        CHECK(e.message.find(r.expected) != std::string::npos);
        CHECK(e.message.size() < 600);
        // Regression (issue 10): the library named `--creds`, a flag `copy` and `sync` do not have. Flags are
        // the CLI's to name.
        CHECK(e.message.find("--") == std::string::npos);
    }
}

TEST_CASE("Retry-After in seconds and as an HTTP date") {
    auto now = std::chrono::system_clock::from_time_t(1445412480); // Wed, 21 Oct 2015 07:28:00 GMT
    CHECK(parse_retry_after("120", now) == std::chrono::milliseconds(120s));
    CHECK(parse_retry_after(" 3 ", now) == std::chrono::milliseconds(3s));
    CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == std::chrono::milliseconds(30s));
    CHECK(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now) == std::chrono::milliseconds(0));
    CHECK(parse_retry_after("99999999", now) == std::chrono::milliseconds(10min));
    CHECK_FALSE(parse_retry_after("", now));
    CHECK_FALSE(parse_retry_after("soon", now));
    CHECK_FALSE(parse_retry_after("-5", now));
}

TEST_CASE("a 429 carries the server's Retry-After") {
    auto e = registry_error(429, "", "7", "HEAD x");
    REQUIRE(e.retry_after);
    CHECK(*e.retry_after == std::chrono::milliseconds(7s));
    CHECK(e.retryable());
}

// Regression: a 503 HTML page from a proxy, seen through a HEAD (no body), was reported without saying so.
TEST_CASE("a bodiless HTML answer is still recognised as an HTML page") {
    auto e = registry_error(503, "", "1", "HEAD http://x/v2/a/manifests/b", "text/html; charset=utf-8");
    CHECK(e.code == errc::server_error);
    CHECK(e.message.find("503 Service Unavailable: an HTML page") != std::string::npos);
    CHECK(e.retryable());
}

// Issue 10: a registry echoing the request's Basic credentials. The excerpt of a non-JSON body is cut at 160
// characters; the secret must go before the cut, or its first half would be quoted.
TEST_CASE("known secrets are scrubbed from an error body before it is quoted or cut") {
    known_secrets().add_basic("echo-user", "Echo-S3cret-PW");
    const std::string basic = "ZWNoby11c2VyOkVjaG8tUzNjcmV0LVBX"; // base64("echo-user:Echo-S3cret-PW")
    const std::string padding(120, 'x');
    auto e =
        registry_error(401, "<html>denied " + padding + " for [Basic " + basic + "]</html>", "", "GET x");
    CHECK(e.message.find("denied") != std::string::npos);
    CHECK(e.message.find(basic.substr(0, 8)) == std::string::npos);
    e = registry_error(403,
                       R"({"errors":[{"code":"DENIED","message":"denied for [Basic )" + basic +
                           R"(] decoded [echo-user:Echo-S3cret-PW]"}]})",
                       "", "PUT x");
    CHECK(e.message.find("DENIED: denied for [Basic REDACTED] decoded [REDACTED]") != std::string::npos);
    CHECK(e.message.find("S3cret") == std::string::npos);
}
