#pragma once
// Platforms of index entries and the `os/arch[/variant]` filters users give.
#include "libregistry/core/error.hpp"

#include <optional>
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

/// The platform an image configuration names (image-spec config.md: `os`, `architecture`, `variant`,
/// `os.version`), which is all a single-platform image says about its platform. nullopt when `config_json`
/// is not a JSON object or lacks a non-empty string `os` or `architecture`, as an artifact's empty `{}`
/// config does.
std::optional<platform> platform_of_config(std::string_view config_json);

/// The platforms' str(), comma-separated, for messages; an empty os or architecture (a filter's "any") is
/// `*`.
std::string platform_list(const std::vector<platform>& platforms);

} // namespace libregistry
