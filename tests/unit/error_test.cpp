#include "libregistry/core/error.hpp"

#include <doctest/doctest.h>

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace libregistry;

namespace {

constexpr errc last_errc = errc::busy;

std::vector<errc> all_codes() {
    std::vector<errc> out;
    for (int i = static_cast<int>(errc::blob_unknown); i <= static_cast<int>(last_errc); ++i)
        out.push_back(static_cast<errc>(i));
    return out;
}

} // namespace

TEST_CASE("errc_from_oci_code maps every distribution-spec code") {
    struct row {
        std::string code;
        errc expected;
    };
    const std::vector<row> rows{
        {"BLOB_UNKNOWN", errc::blob_unknown},
        {"BLOB_UPLOAD_INVALID", errc::blob_upload_invalid},
        {"BLOB_UPLOAD_UNKNOWN", errc::blob_upload_unknown},
        {"DIGEST_INVALID", errc::digest_invalid},
        {"MANIFEST_BLOB_UNKNOWN", errc::manifest_blob_unknown},
        {"MANIFEST_INVALID", errc::manifest_invalid},
        {"MANIFEST_UNKNOWN", errc::manifest_unknown},
        {"NAME_INVALID", errc::name_invalid},
        {"NAME_UNKNOWN", errc::name_unknown},
        {"SIZE_INVALID", errc::size_invalid},
        {"UNAUTHORIZED", errc::unauthorized},
        {"DENIED", errc::denied},
        {"UNSUPPORTED", errc::unsupported},
        {"TOOMANYREQUESTS", errc::too_many_requests},
    };
    for (const auto& r : rows) {
        CAPTURE(r.code);
        const auto got = errc_from_oci_code(r.code);
        REQUIRE(got.has_value());
        CHECK(*got == r.expected);
    }
}

TEST_CASE("errc_from_oci_code rejects unknown and near-miss codes") {
    const std::vector<std::string> unknown{
        "",          "manifest_unknown", "MANIFEST_UNKNOWN ", "TOO_MANY_REQUESTS",
        "NOT_FOUND", "BAD_RESPONSE",     "INVALID_REFERENCE", "CANCELLED",
        "UNKNOWN",
    };
    for (const auto& code : unknown) {
        CAPTURE(code);
        CHECK_FALSE(errc_from_oci_code(code).has_value());
    }
}

TEST_CASE("is_retryable") {
    const std::set<errc> retryable{
        errc::too_many_requests, errc::server_error,        errc::connection_failed, errc::timeout,
        errc::proxy_error,       errc::blob_upload_unknown, errc::size_mismatch,
    };
    for (errc e : all_codes()) {
        CAPTURE(static_cast<int>(e));
        CHECK(is_retryable(make_error_code(e)) == (retryable.count(e) == 1));
        CHECK(make_error(e, "m").retryable() == (retryable.count(e) == 1));
    }
    // Only libregistry's own codes are judged; a generic code with the same value is not.
    CHECK_FALSE(is_retryable(
        boost::system::error_code(static_cast<int>(errc::timeout), boost::system::generic_category())));
    CHECK_FALSE(is_retryable(boost::system::error_code{}));
}

TEST_CASE("error category names and messages") {
    CHECK(std::string(registry_category().name()) == "libregistry");
    struct row {
        errc code;
        std::string message;
    };
    const std::vector<row> rows{
        {errc::manifest_unknown, "manifest unknown"},
        {errc::too_many_requests, "too many requests"},
        {errc::digest_mismatch, "content does not match its digest"},
        {errc::credentials_error, "credentials error"},
        {errc::cancelled, "cancelled"},
        {errc::platform_mismatch, "no platform matches the filter"},
        {errc::io_error, "file system error"},
        {errc::invalid_archive, "malformed or unsafe image layout or archive"},
        {errc::busy, "in use by another writer"},
    };
    for (const auto& r : rows)
        CHECK(make_error_code(r.code).message() == r.message);

    std::set<std::string> seen;
    for (errc e : all_codes()) {
        const auto message = make_error_code(e).message();
        CAPTURE(message);
        CHECK(message != "unknown libregistry error");
        CHECK(seen.insert(message).second);
    }
    CHECK(boost::system::error_code(999, registry_category()).message() == "unknown libregistry error");
}

TEST_CASE("errc converts implicitly to error_code") {
    boost::system::error_code ec = errc::denied;
    CHECK(ec.category() == registry_category());
    CHECK(ec.value() == static_cast<int>(errc::denied));
    CHECK(ec == errc::denied);
    CHECK(ec != errc::unauthorized);
}

TEST_CASE("make_error and result") {
    const auto e = make_error(errc::not_found, "quay.io/a/b:latest: manifest not found", 404);
    CHECK(e.code == errc::not_found);
    CHECK(e.message == "quay.io/a/b:latest: manifest not found");
    CHECK(e.http_status == 404);
    CHECK_FALSE(e.retry_after.has_value());
    CHECK(make_error(errc::timeout, "t").http_status == 0);

    result<int> failed = make_error(errc::denied, "push to quay.io/a/b denied");
    REQUIRE_FALSE(failed.has_value());
    CHECK(failed.error().code == errc::denied);
    CHECK_THROWS_WITH_AS(failed.value(), "push to quay.io/a/b denied", std::runtime_error);

    // With no message, value() falls back to the code's text.
    result<int> bare = make_error(errc::timeout, "");
    CHECK_THROWS_WITH_AS(bare.value(), "timed out", std::runtime_error);

    result<int> ok = 7;
    CHECK(ok.value() == 7);
}
