#include "libregistry/core/duration.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <utility>
#include <vector>

namespace libregistry {

namespace {

constexpr long long max_seconds = 30LL * 24 * 3600;

struct unit {
    char name;
    long long seconds;
};
constexpr std::array<unit, 4> units{{{'d', 24 * 3600}, {'h', 3600}, {'m', 60}, {'s', 1}}};

error bad_duration(std::string_view text, std::string_view why) {
    return make_error(errc::invalid_argument,
                      fmt::format("\"{}\" is not a duration ({}): give seconds (300) or numbers with units "
                                  "d, h, m, s, largest first (90s, 5m, 1h30m)",
                                  text, why));
}

} // namespace

result<std::chrono::milliseconds> parse_duration(std::string_view text) {
    std::string_view rest = text;
    auto skip_spaces = [&rest] {
        while (!rest.empty() && rest.front() == ' ')
            rest.remove_prefix(1);
    };
    skip_spaces();
    if (rest.empty()) return bad_duration(text, "it is empty");
    long long total = 0;
    std::size_t next_unit = 0; ///< units must come largest first, each once
    bool first = true;
    while (!rest.empty()) {
        long long value = 0;
        auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
        if (ec == std::errc::result_out_of_range || value > max_seconds)
            return bad_duration(text, "it is longer than 30 days");
        if (ec != std::errc{} || value < 0) return bad_duration(text, "a number is missing");
        rest.remove_prefix(static_cast<std::size_t>(end - rest.data()));
        if (rest.empty() && first) {
            total = value; // plain seconds
            break;
        }
        if (rest.empty()) return bad_duration(text, "the last number has no unit");
        const char name = static_cast<char>(std::tolower(static_cast<unsigned char>(rest.front())));
        std::size_t i = next_unit;
        while (i < units.size() && units[i].name != name)
            ++i;
        if (i == units.size())
            return bad_duration(text, fmt::format("unknown or misplaced unit '{}'", rest[0]));
        if (value > max_seconds / units[i].seconds) return bad_duration(text, "it is longer than 30 days");
        total += value * units[i].seconds;
        if (total > max_seconds) return bad_duration(text, "it is longer than 30 days");
        next_unit = i + 1;
        rest.remove_prefix(1);
        skip_spaces();
        first = false;
    }
    if (total > max_seconds) return bad_duration(text, "it is longer than 30 days");
    return std::chrono::milliseconds(total * 1000);
}

std::string format_duration(std::chrono::milliseconds d) {
    if (d.count() <= 0) return "0s";
    long long seconds = (d.count() + 999) / 1000;
    std::vector<std::pair<long long, char>> parts;
    for (const auto& u : units) {
        if (seconds >= u.seconds || !parts.empty()) parts.emplace_back(seconds / u.seconds, u.name);
        seconds %= u.seconds;
        if (parts.size() == 2) break;
    }
    if (parts.size() == 2 && parts[1].first == 0) parts.pop_back();
    std::string out;
    for (const auto& [value, name] : parts)
        out += fmt::format("{}{}{}", out.empty() ? "" : " ", value, name);
    return out;
}

} // namespace libregistry
