#include "libregistry/core/duration.hpp"

#include "core/detail/ascii.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace libregistry {

namespace {

constexpr double max_ms = 30.0 * 24 * 3'600'000;

struct unit {
    std::string_view name;
    long long ms;
};
// Largest first: the order they must be written in.
constexpr std::array<unit, 6> units{
    {{"d", 86'400'000}, {"h", 3'600'000}, {"min", 60'000}, {"m", 60'000}, {"s", 1000}, {"ms", 1}}};

error bad_duration(std::string_view text, std::string_view why) {
    return make_error(errc::invalid_argument,
                      fmt::format("\"{}\" is not a duration ({}): give seconds (300) or numbers with units "
                                  "d, h, m, s, ms, largest first (90s, 5m, 1h30m, 1500ms)",
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
    while (!rest.empty() && rest.back() == ' ')
        rest.remove_suffix(1);
    if (rest.empty()) return bad_duration(text, "it is empty");
    double total = 0;
    std::size_t next_unit = 0; ///< units must come largest first, each once
    bool first = true;
    while (!rest.empty()) {
        const auto value = detail::take_decimal(rest);
        if (!value) return bad_duration(text, "a number is missing");
        if (rest.empty() && first) {
            total = *value * 1000; // plain seconds
            break;
        }
        if (rest.empty()) return bad_duration(text, "the last number has no unit");
        std::size_t letters = 0;
        while (letters < rest.size() && std::isalpha(static_cast<unsigned char>(rest[letters])))
            ++letters;
        std::string name(rest.substr(0, letters));
        for (auto& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::size_t i = next_unit;
        while (i < units.size() && units[i].name != name)
            ++i;
        if (name.empty() || i == units.size())
            return bad_duration(text,
                                fmt::format("unknown or misplaced unit \"{}\"",
                                            name.empty() ? rest.substr(0, 1) : rest.substr(0, letters)));
        total += *value * static_cast<double>(units[i].ms);
        if (total > max_ms) return bad_duration(text, "it is longer than 30 days");
        // `m` and `min` are one unit.
        next_unit = units[i].name == "min" ? i + 2 : i + 1;
        rest.remove_prefix(letters);
        skip_spaces();
        first = false;
    }
    if (total > max_ms) return bad_duration(text, "it is longer than 30 days");
    return std::chrono::milliseconds(std::llround(total));
}

std::string format_duration(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms <= 0) return "0s";
    if (ms < 1000) return fmt::format("{}ms", ms);
    if (ms < 60'000) return fmt::format("{}s", static_cast<double>(ms) / 1000);
    long long seconds = (ms + 999) / 1000;
    constexpr std::array<std::pair<long long, char>, 4> parts_of{
        {{86'400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}}};
    std::vector<std::pair<long long, char>> parts;
    for (const auto& [size, name] : parts_of) {
        if (seconds >= size || !parts.empty()) parts.emplace_back(seconds / size, name);
        seconds %= size;
        if (parts.size() == 2) break;
    }
    if (parts.size() == 2 && parts[1].first == 0) parts.pop_back();
    std::string out;
    for (const auto& [value, name] : parts)
        out += fmt::format("{}{}{}", out.empty() ? "" : " ", value, name);
    return out;
}

} // namespace libregistry
