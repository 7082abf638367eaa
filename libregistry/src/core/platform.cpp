#include "libregistry/core/platform.hpp"

#include "core/detail/ascii.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace libregistry {
namespace {

/// The GOARCH spelling indexes use; uname spellings are what users tend to type.
std::string_view canonical_arch(std::string_view arch) noexcept {
    if (arch == "x86_64" || arch == "x86-64") return "amd64";
    if (arch == "aarch64") return "arm64";
    return arch;
}

/// containerd's platforms package treats a variant-less arm64 as v8, which is what every arm64 CPU runs.
std::string_view effective_variant(std::string_view arch, std::string_view variant) noexcept {
    if (variant.empty() && arch == "arm64") return "v8";
    return variant;
}

} // namespace

std::string platform::str() const {
    auto out = os + "/" + architecture;
    if (!variant.empty()) out += "/" + variant;
    return out;
}

result<platform> parse_platform(std::string_view text) {
    const auto fail = [&](std::string_view why) {
        return make_error(errc::invalid_argument,
                          "invalid platform \"" + std::string(text) + "\": " + std::string(why) +
                              " (expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8)");
    };
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto slash = std::min(text.find('/', start), text.size());
        parts.push_back(text.substr(start, slash - start));
        start = slash + 1;
    }
    if (parts.size() < 2) return fail("missing architecture");
    if (parts.size() > 3) return fail("too many '/'-separated parts");
    for (const auto part : parts) {
        if (part.empty()) return fail("empty part");
        if (part.find_first_of(" \t,") != std::string_view::npos) return fail("unexpected whitespace or ','");
    }
    platform p;
    p.os = detail::lower(parts[0]);
    p.architecture = detail::lower(parts[1]);
    if (parts.size() == 3) p.variant = detail::lower(parts[2]);
    return p;
}

bool platform_matches(const platform& filter, const platform& candidate) {
    // Empty filter fields match anything: image-syncer's --arch alone keeps that architecture on every OS.
    if (!filter.os.empty() && filter.os != candidate.os) return false;
    if (filter.architecture.empty()) return true;
    const auto arch = canonical_arch(filter.architecture);
    if (arch != canonical_arch(candidate.architecture)) return false;
    if (filter.variant.empty()) return true;
    return effective_variant(arch, filter.variant) == effective_variant(arch, candidate.variant);
}

bool platform_matches_any(const std::vector<platform>& filters, const platform& candidate) {
    return std::any_of(filters.begin(), filters.end(),
                       [&](const platform& filter) { return platform_matches(filter, candidate); });
}

std::optional<platform> platform_of_config(std::string_view config_json) {
    const auto body = nlohmann::json::parse(config_json, nullptr, false);
    if (!body.is_object()) return std::nullopt;
    const auto text = [&](const char* key) {
        const auto it = body.find(key);
        return it != body.end() && it->is_string() ? it->get<std::string>() : std::string{};
    };
    platform p;
    p.os = text("os");
    p.architecture = text("architecture");
    if (p.os.empty() || p.architecture.empty()) return std::nullopt;
    p.variant = text("variant");
    p.os_version = text("os.version");
    return p;
}

std::string platform_list(const std::vector<platform>& platforms) {
    std::string out;
    for (const auto& p : platforms) {
        if (!out.empty()) out.append(", ");
        // Filters from --os or --arch alone leave a field empty, which matches anything.
        out.append(p.os.empty() ? std::string_view("*") : std::string_view(p.os));
        out.append(1, '/');
        out.append(p.architecture.empty() ? std::string_view("*") : std::string_view(p.architecture));
        if (!p.variant.empty()) out.append(1, '/').append(p.variant);
    }
    return out;
}

} // namespace libregistry
