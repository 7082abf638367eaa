#include "libregistry/core/rate_limit.hpp"

#include <charconv>

namespace libregistry {

std::optional<rate_limit_remaining> parse_rate_limit_remaining(std::string_view header) noexcept {
    if (header.empty()) return std::nullopt;
    auto semi = header.find(';');
    auto count = header.substr(0, semi);
    rate_limit_remaining out;
    auto [p, ec] = std::from_chars(count.data(), count.data() + count.size(), out.remaining);
    if (ec != std::errc{} || p != count.data() + count.size()) return std::nullopt;
    if (semi == std::string_view::npos) return out;
    if (auto w = header.find("w=", semi); w != std::string_view::npos) {
        auto rest = header.substr(w + 2);
        std::from_chars(rest.data(), rest.data() + rest.size(), out.window_seconds);
    }
    return out;
}

} // namespace libregistry
