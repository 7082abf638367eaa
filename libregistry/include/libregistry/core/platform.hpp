#pragma once
// Platforms of index entries and the `os/arch[/variant]` filters users give.
#include "libregistry/core/error.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

struct platform {
    std::string os;
    std::string architecture;
    std::string variant;
    std::string os_version;

    /// `os/arch[/variant]`.
    std::string str() const;
    friend bool operator==(const platform&, const platform&) = default;
};

/// Parses `os/arch[/variant]` (as skopeo's and docker's --platform take it).
result<platform> parse_platform(std::string_view text);

/// True when `candidate` satisfies `filter`: os and architecture equal, and the variant equal when the filter
/// names one. Architecture aliases (`x86_64`/`amd64`, `aarch64`/`arm64`) are folded; `arm64` with no variant
/// matches `v8`. An empty os or architecture in the filter matches any.
bool platform_matches(const platform& filter, const platform& candidate);

bool platform_matches_any(const std::vector<platform>& filters, const platform& candidate);

} // namespace libregistry
