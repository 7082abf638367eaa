#pragma once
// ASCII text helpers for protocol text (header values, host names, media types, auth file keys). Locale-free
// on purpose: RFC 9110 tokens and DNS names are case-insensitive in ASCII only.
#include <string>
#include <string_view>

namespace libregistry::detail {

constexpr char to_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (to_lower(a[i]) != to_lower(b[i])) return false;
    return true;
}

inline std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        c = to_lower(c);
    return out;
}

/// Without leading and trailing spaces, tabs, CR and LF.
constexpr std::string_view trim(std::string_view s) noexcept {
    constexpr std::string_view space = " \t\r\n";
    const auto first = s.find_first_not_of(space);
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(space) - first + 1);
}

} // namespace libregistry::detail
