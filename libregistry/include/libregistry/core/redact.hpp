#pragma once
// Keeps secrets out of messages and logs.
#include <string>
#include <string_view>

namespace libregistry {

/// A URL fit for messages: userinfo removed, and query values other than the harmless ones (`n`, `last`,
/// `digest`, `mount`, `from`, `service`, `scope`) replaced by `REDACTED` (upload `_state`, signed storage
/// URLs).
std::string redact_url(std::string_view url);

/// `Authorization`, `Proxy-Authorization`, `Cookie` and `Set-Cookie` values become `REDACTED`; `Location` and
/// `Content-Location` go through redact_url; other header values pass through.
std::string redact_header(std::string_view name, std::string_view value);

} // namespace libregistry
