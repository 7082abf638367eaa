#pragma once
// Error codes and the error value every fallible libregistry call returns.
//
// Infrastructure failures (bugs, memory exhaustion) throw; everything that depends on input or on a
// registry's answer is returned as `result<T>`, carrying an `error` with a code for decisions and a message
// for people. Messages say what failed, where (redacted URL, registry, repository) and what to do.
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace libregistry {

enum class errc {
    // The OCI distribution-spec error codes (spec section "Error Codes"), plus Docker's TOOMANYREQUESTS.
    blob_unknown = 1,
    blob_upload_invalid,
    blob_upload_unknown,
    digest_invalid,
    manifest_blob_unknown,
    manifest_invalid,
    manifest_unknown,
    name_invalid,
    name_unknown,
    size_invalid,
    unauthorized,
    denied,
    unsupported,
    too_many_requests,
    // Failures syncer detects itself.
    invalid_reference,
    invalid_digest,
    invalid_manifest,
    unsupported_media_type,
    digest_mismatch,
    size_mismatch,
    too_large,
    not_found,
    server_error,
    bad_response,
    connection_failed,
    timeout,
    tls_error,
    proxy_error,
    too_many_redirects,
    insecure_refused,
    credentials_error,
    invalid_argument,
    cancelled,
    /// A platform filter matched nothing in the image: the same image gives the same answer, so no retry.
    platform_mismatch,
    /// A local file or directory (an image layout, an archive) could not be read or written.
    io_error,
    /// An image layout or archive is malformed or unsafe: a bad index.json, a tar entry that escapes, a
    /// truncated or corrupt stream.
    invalid_archive,
    /// Another writer holds the image layout's lock.
    busy,
};

const boost::system::error_category& registry_category() noexcept;
boost::system::error_code make_error_code(errc e) noexcept;

/// Maps an OCI `errors[].code` string ("MANIFEST_UNKNOWN", ...) onto errc; unknown codes give nullopt.
std::optional<errc> errc_from_oci_code(std::string_view code) noexcept;

/// True for failures worth retrying: rate limits, 5xx, timeouts, dropped connections.
bool is_retryable(boost::system::error_code ec) noexcept;

/// A failure: `code` for decisions, `message` for people. `http_status` is 0 when no response was read.
struct error {
    boost::system::error_code code;
    std::string message;
    int http_status = 0;
    /// Server-requested pause (Retry-After), when it gave one.
    std::optional<std::chrono::milliseconds> retry_after;
    /// How often the request that failed was sent, when a retry loop sent it (0: not counted). Levels above
    /// the request loop read it to share the attempt budget (see retry.hpp).
    int attempts = 0;

    bool retryable() const noexcept { return is_retryable(code); }
};

error make_error(errc code, std::string message, int http_status = 0);

/// Prints the message (for logs and test output).
std::ostream& operator<<(std::ostream& os, const error& e);

/// Lets boost::system::result<T, error>::value() throw a readable exception.
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

template <class T>
using result = boost::system::result<T, error>;

} // namespace libregistry

template <>
struct boost::system::is_error_code_enum<libregistry::errc> : std::true_type {};
