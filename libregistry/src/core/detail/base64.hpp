#pragma once
// Base64 (RFC 4648 section 4), for Basic credentials and the `auth` fields of auth files.
#include <optional>
#include <string>
#include <string_view>

namespace libregistry::detail {

/// Padded base64 of `bytes`.
std::string encode_base64(std::string_view bytes);

/// Decodes base64 with optional padding; whitespace and other characters are rejected.
std::optional<std::string> decode_base64(std::string_view text);

} // namespace libregistry::detail
