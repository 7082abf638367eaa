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

TEST_CASE("redact_header") {
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
        {"Content-Type", "application/json", "application/json"},
        {"WWW-Authenticate", R"(Bearer realm="r")", R"(Bearer realm="r")"},
        {"Authorization-Info", "kept", "kept"},
        {"Cookie", "session=abc", "REDACTED"},
        {"set-cookie", "AWSALB=xyz; Path=/", "REDACTED"},
        {"Location", "https://s3.example/b?X-Amz-Signature=sig&X-Amz-Expires=60",
         "https://s3.example/b?X-Amz-Signature=REDACTED&X-Amz-Expires=REDACTED"},
        {"Location", "/v2/a/blobs/uploads/u?_state=secret", "/v2/a/blobs/uploads/u?_state=REDACTED"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        CHECK(redact_header(r.name, r.value) == r.expected);
    }
}
