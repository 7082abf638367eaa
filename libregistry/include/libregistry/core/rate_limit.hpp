#pragma once
// Pull quotas as registries announce them: `RateLimit-Remaining: 76;w=21600` (the IETF RateLimit header
// fields draft, as Docker Hub sends them).
#include <optional>
#include <string_view>

namespace libregistry {

struct rate_limit_remaining {
    long long remaining = 0;
    long long window_seconds = 0; ///< 0 when the header names no window
};

/// Parses a RateLimit-Remaining value; nullopt when it is absent or not a number.
std::optional<rate_limit_remaining> parse_rate_limit_remaining(std::string_view header) noexcept;

} // namespace libregistry
