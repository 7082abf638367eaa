#include "libregistry/core/transfer_rate.hpp"

#include "core/detail/ascii.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <utility>

namespace libregistry {

namespace {

using std::chrono::milliseconds;

bool enabled(const min_transfer_rate& limit) {
    return limit.bytes_per_second > 0 && limit.window.count() > 0;
}

/// One decimal, without a trailing ".0".
std::string one_decimal(double value) {
    auto text = fmt::format("{:.1f}", value);
    if (text.ends_with(".0")) text.resize(text.size() - 2);
    return text;
}

} // namespace

rate_floor::rate_floor(min_transfer_rate limit) noexcept : limit_(limit) {
    if (!enabled(limit_)) return;
    const auto window_ms = static_cast<std::uint64_t>(limit_.window.count());
    // Capped so the product cannot overflow; no body needs more than this per window anyway.
    const std::uint64_t rate = std::min<std::uint64_t>(limit_.bytes_per_second, 1ULL << 40);
    quota_ = std::max<std::uint64_t>(1, rate * std::min<std::uint64_t>(window_ms, 1ULL << 22) / 1000);
}

std::optional<rate_floor::duration> rate_floor::allowance() const noexcept {
    if (!enabled(limit_)) return std::nullopt;
    const duration window = limit_.window;
    return waited_ >= window ? duration{0} : window - waited_;
}

bool rate_floor::record(std::uint64_t bytes, duration waited) noexcept {
    if (!enabled(limit_)) return true;
    moved_ += bytes;
    waited_ += waited;
    if (moved_ >= quota_) {
        moved_ = 0;
        waited_ = duration{0};
        return true;
    }
    return waited_ < duration(limit_.window);
}

std::string rate_floor::describe(std::string_view verb) const {
    const double seconds = std::chrono::duration<double>(waited_).count();
    const double observed = seconds > 0 ? static_cast<double>(moved_) / seconds : 0;
    return fmt::format("{} at {}, below the minimum of {} over {}", verb, format_rate(observed),
                       format_rate(static_cast<double>(limit_.bytes_per_second)),
                       format_duration(limit_.window));
}

std::string format_rate(double bytes_per_second) {
    static constexpr std::array<const char*, 4> units{"KiB", "MiB", "GiB", "TiB"};
    if (!(bytes_per_second >= 1024)) return fmt::format("{:.0f} B/s", std::max(bytes_per_second, 0.0));
    double value = bytes_per_second / 1024;
    std::size_t unit = 0;
    while (value >= 1024 && unit + 1 < units.size()) {
        value /= 1024;
        ++unit;
    }
    return fmt::format("{} {}/s", one_decimal(value), units[unit]);
}

result<std::uint64_t> parse_rate(std::string_view text) {
    const auto fail = [text] {
        return make_error(
            errc::invalid_argument,
            fmt::format("\"{}\" is not a transfer rate: expected e.g. 1KiB/s, 512B/s or 2.5MB/s "
                        "(units B, KiB, MiB, GiB, kB, MB, GB)",
                        text));
    };
    std::string_view rest = detail::trim(text);
    if (rest.size() >= 2 && detail::iequals(rest.substr(rest.size() - 2), "/s"))
        rest = detail::trim(rest.substr(0, rest.size() - 2));
    auto number = detail::take_decimal(rest);
    if (!number) return fail();
    const std::string unit = detail::lower(detail::trim(rest));
    static constexpr std::array<std::pair<std::string_view, double>, 8> factors{
        {{"", 1},
         {"b", 1},
         {"kib", 1024.0},
         {"mib", 1024.0 * 1024},
         {"gib", 1024.0 * 1024 * 1024},
         {"kb", 1e3},
         {"mb", 1e6},
         {"gb", 1e9}}};
    for (const auto& [name, factor] : factors) {
        if (unit != name) continue;
        const double bytes = std::round(*number * factor);
        if (bytes > 1024.0 * 1024 * 1024 * 1024)
            return make_error(errc::invalid_argument,
                              fmt::format("\"{}\" is not a usable transfer rate: at most 1 TiB/s", text));
        return static_cast<std::uint64_t>(bytes);
    }
    return fail();
}

} // namespace libregistry
