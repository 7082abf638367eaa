#include "libregistry/core/redact.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace libregistry;

TEST_CASE("redact_url") {
    struct row {
        std::string name;
        std::string input;
        std::string expected;
    };
    const std::vector<row> rows{
        {"plain URL unchanged", "https://quay.io/v2/a/b/manifests/latest",
         "https://quay.io/v2/a/b/manifests/latest"},
        {"userinfo removed", "https://user:pass@quay.io/v2/", "https://quay.io/v2/"},
        {"user only removed", "https://user@quay.io:8443/v2/", "https://quay.io:8443/v2/"},
        {"allowlisted params kept", "https://r/v2/x/tags/list?n=5&last=b",
         "https://r/v2/x/tags/list?n=5&last=b"},
        {"blob mount kept", "/v2/dst/blobs/uploads/?mount=sha256:abc&from=src",
         "/v2/dst/blobs/uploads/?mount=sha256:abc&from=src"},
        {"token request kept",
         "https://auth.docker.io/token?service=registry.docker.io&scope=repository:library/alpine:pull",
         "https://auth.docker.io/token?service=registry.docker.io&scope=repository:library/alpine:pull"},
        {"upload state redacted", "/v2/x/blobs/uploads/uuid?_state=c2VjcmV0&digest=sha256:1",
         "/v2/x/blobs/uploads/uuid?_state=REDACTED&digest=sha256:1"},
        {"signed storage URL",
         "https://bucket.s3.amazonaws.com/"
         "blob?X-Amz-Credential=AKIA&X-Amz-Signature=deadbeef&X-Amz-Expires=1200",
         "https://bucket.s3.amazonaws.com/"
         "blob?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Expires="
         "REDACTED"},
        {"allowlist is case-sensitive", "/x?N=5&Digest=sha256:1", "/x?N=REDACTED&Digest=REDACTED"},
        {"percent-encoded key matches allowlist", "/x?%6E=5", "/x?%6E=5"},
        {"lone query word redacted", "https://cdn.example/blob?opaque-secret-token",
         "https://cdn.example/blob?REDACTED"},
        {"empty value redacted too", "/x?a=&n=1", "/x?a=REDACTED&n=1"},
        {"fragment dropped", "https://r/v2/#access_token=secret", "https://r/v2/"},
        {"relative path", "/v2/x/manifests/latest", "/v2/x/manifests/latest"},
        {"relative with query", "/v2/x/blobs/uploads/1?_state=abc", "/v2/x/blobs/uploads/1?_state=REDACTED"},
        {"network-path reference", "//user:pw@host/v2/", "//host/v2/"},
        {"empty", "", ""},
        {"empty query kept", "/x?", "/x?"},
        {"empty params kept", "/x?&&n=1&", "/x?&&n=1&"},
        // Regression: Boost 1.81's params iterator crashed on this (empty query, then a fragment).
        {"empty query then fragment", "//u@h/x?#a", "//h/x?"},
        {"unparsable with userinfo and query", "https://user:pw@host/a b?token=secret", "https://host/a b"},
        {"unparsable with fragment", "https://host/a b#secret", "https://host/a b"},
        {"unparsable schemeless", "user:pw@host/a b?x=1", "host/a b"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        CHECK(redact_url(r.input) == r.expected);
    }
}

TEST_CASE("redact_url never leaks secrets") {
    const std::vector<std::string> inputs{
        "https://u:SECRET@h/p?x=SECRET",
        "https://h/p?x=SECRET#SECRET",
        "h:1/p?SECRET",
        "https://u:SECRET@h/%zz?x=SECRET",
        "?SECRET",
        "#SECRET",
        "https://u:SECRET@[::1]:5000/v2/?a",
        "//u:SECRET@h",
        "https://u:SECRET@h:bad port/x",
    };
    for (const auto& input : inputs) {
        CAPTURE(input);
        CHECK(redact_url(input).find("SECRET") == std::string::npos);
    }
}

TEST_CASE("redact_header: an allow-list of harmless headers; every other value is REDACTED") {
    struct row {
        std::string name;
        std::string value;
        std::string expected;
    };
    const std::vector<row> rows{
        {"Authorization", "Bearer abc", "REDACTED"},
        {"authorization", "Basic dXNlcjpwYXNz", "REDACTED"},
        {"Proxy-Authorization", "Basic abc", "REDACTED"},
        {"PROXY-AUTHORIZATION", "x", "REDACTED"},
        {"Cookie", "session=abc", "REDACTED"},
        {"set-cookie", "AWSALB=xyz; Path=/", "REDACTED"},
        // Issue 10: a proxy that echoes the request's credentials in a header of its own.
        {"X-Echo", "Basic dXNlcjpUb3BTM2NyZXRQVw==", "REDACTED"},
        {"Authorization-Info", "nextnonce=abc", "REDACTED"},
        {"X-Amz-Security-Token", "FwoGZXIvYXdzE", "REDACTED"},
        {"Content-Type", "application/json", "application/json"},
        {"content-length", "42", "42"},
        {"Docker-Content-Digest", "sha256:abc", "sha256:abc"},
        {"Docker-Distribution-API-Version", "registry/2.0", "registry/2.0"},
        {"Docker-Upload-UUID", "5f1c", "5f1c"},
        {"Range", "0-1023", "0-1023"},
        {"Content-Range", "bytes 0-9/10", "bytes 0-9/10"},
        {"WWW-Authenticate", R"(Bearer realm="r")", R"(Bearer realm="r")"},
        {"Retry-After", "1", "1"},
        {"RateLimit-Limit", "100;w=21600", "100;w=21600"},
        {"ratelimit-remaining", "0;w=21600", "0;w=21600"},
        {"RateLimit-Reset", "30", "30"},
        {"Date", "Tue, 01 Aug 2023 10:00:00 GMT", "Tue, 01 Aug 2023 10:00:00 GMT"},
        {"Connection", "keep-alive", "keep-alive"},
        {"User-Agent", "syncer/1", "syncer/1"},
        {"Accept", "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.index.v1+json"},
        {"Location", "https://s3.example/b?X-Amz-Signature=sig&X-Amz-Expires=60",
         "https://s3.example/b?X-Amz-Signature=REDACTED&X-Amz-Expires=REDACTED"},
        {"Location", "/v2/a/blobs/uploads/u?_state=secret", "/v2/a/blobs/uploads/u?_state=REDACTED"},
        {"content-location", "https://u:pw@h/x", "https://h/x"},
        {"Link", R"(</v2/a/tags/list?n=2&last=b>; rel="next")",
         R"(</v2/a/tags/list?n=2&last=b>; rel="next")"},
        {"Link", R"(<https://h/x?token=abc>; rel="next", </y?sig=1>; rel="prev")",
         R"(<https://h/x?token=REDACTED>; rel="next", </y?sig=REDACTED>; rel="prev")"},
        {"Link", "no brackets", "no brackets"},
        {"Link", "<unclosed?token=abc", "<unclosed?token=abc"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        CAPTURE(r.value);
        CHECK(redact_header(r.name, r.value) == r.expected);
    }
}

TEST_CASE("secret_set::scrub") {
    secret_set secrets;
    CHECK(secrets.empty());
    CHECK(secrets.scrub("nothing known yet: TopS3cretPW") == "nothing known yet: TopS3cretPW");

    secrets.add_basic("user", "TopS3cretPW");
    secrets.add("tok.eyJhbGciOiJSUzI1NiJ9.abc");
    CHECK_FALSE(secrets.empty());

    struct row {
        std::string name;
        std::string input;
        std::string expected;
    };
    // base64("user:TopS3cretPW") = dXNlcjpUb3BTM2NyZXRQVw==
    const std::vector<row> rows{
        {"the password", "password TopS3cretPW refused", "password REDACTED refused"},
        {"user:password as a whole", "decoded [user:TopS3cretPW]", "decoded [REDACTED]"},
        {"the Basic header value", "denied for [Basic dXNlcjpUb3BTM2NyZXRQVw==]",
         "denied for [Basic REDACTED]"},
        {"base64 without its padding", "Basic dXNlcjpUb3BTM2NyZXRQVw;", "Basic REDACTED;"},
        {"in a form body", "password=TopS3cretPW&x=1", "password=REDACTED&x=1"},
        {"a token", "Bearer tok.eyJhbGciOiJSUzI1NiJ9.abc expired", "Bearer REDACTED expired"},
        {"every occurrence", "TopS3cretPWTopS3cretPW and TopS3cretPW", "REDACTED and REDACTED"},
        {"at both ends", "TopS3cretPW", "REDACTED"},
        {"unrelated text kept", "sha256:0123456789abcdef", "sha256:0123456789abcdef"},
        {"a prefix alone is not a secret", "TopS3cret", "TopS3cret"},
        {"empty", "", ""},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        CHECK(secrets.scrub(r.input) == r.expected);
    }
}

TEST_CASE("secret_set: overlapping secrets become one REDACTED") {
    secret_set secrets;
    secrets.add("abcdef");
    secrets.add("defghi");
    secrets.add("cdefg");
    CHECK(secrets.scrub("xxabcdefghiyy") == "xxREDACTEDyy");
    CHECK(secrets.scrub("xxcdefgyy") == "xxREDACTEDyy");
    CHECK(secrets.scrub("abcdefdefghi") == "REDACTED"); // adjacent
    CHECK(secrets.scrub("abcde fghi") == "abcde fghi");
}

TEST_CASE("secret_set: secrets in their encoded forms") {
    secret_set secrets;
    secrets.add(R"(p@ss "word"\x)");
    // In a form body or query string, and quoted raw inside a JSON text.
    CHECK(secrets.scrub("password=p%40ss%20%22word%22%5Cx") == "password=REDACTED");
    CHECK(secrets.scrub(R"({"details":"p@ss \"word\"\\x"})") == R"({"details":"REDACTED"})");
    CHECK(secrets.scrub(R"(raw p@ss "word"\x end)") == "raw REDACTED end");
}

TEST_CASE("secret_set: short secrets are not kept, but their Basic forms are") {
    secret_set secrets;
    secrets.add("");
    secrets.add("abc");
    CHECK(secrets.empty());
    CHECK(secrets.scrub("abc abcd") == "abc abcd");

    secrets.add_basic("admin", "pw");
    // base64("admin:pw") = YWRtaW46cHc=
    CHECK(secrets.scrub("Basic YWRtaW46cHc= as admin:pw, pw kept") == "Basic REDACTED as REDACTED, pw kept");

    secrets.add_basic("anonymous", "");
    CHECK(secrets.scrub("anonymous YW5vbnltb3VzOg==") == "anonymous YW5vbnltb3VzOg==");
}

TEST_CASE("known_secrets is the process's set") {
    known_secrets().add("process-wide-secret-7f3a");
    CHECK(&known_secrets() == &known_secrets());
    CHECK(scrub_secrets("a process-wide-secret-7f3a b") == "a REDACTED b");
}
