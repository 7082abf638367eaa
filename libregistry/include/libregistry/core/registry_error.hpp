#pragma once
// Turning a registry's error response into an `error` (distribution-spec "Error Codes": a JSON body
// `{"errors":[{"code","message","detail"}]}`; registries and proxies in front of them also answer with HTML
// or plain text, which is summarised rather than dumped).
#include "libregistry/core/error.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace libregistry {

/// `context` says what was attempted, e.g. `GET https://quay.io/v2/org/app/manifests/1.0 (redacted)`.
/// The code comes from the first `errors[].code` the body carries, else from the status (401 unauthorized,
/// 403 denied, 404 not_found, 429 too_many_requests, 5xx server_error, else bad_response). `retry_after`
/// is the raw Retry-After header (seconds or an HTTP date), `now_unix` the current time for the date form.
/// `content_type` lets a bodiless answer (HEAD) still be recognised as an HTML error page.
/// The known secrets (known_secrets()) are scrubbed from `body` before any of it is quoted.
error registry_error(int status, std::string_view body, std::string_view retry_after,
                     std::string_view context, std::string_view content_type = {});

/// Parses Retry-After: delta-seconds, or an IMF-fixdate relative to `now` (RFC 9110 section 10.2.3).
/// Values are capped at `cap` (10 minutes for a retry's pause); nullopt when absent or malformed.
std::optional<std::chrono::milliseconds>
parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now,
                  std::chrono::milliseconds cap = std::chrono::minutes(10));

} // namespace libregistry
