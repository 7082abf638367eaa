#pragma once
// ASCII text helpers for protocol text (header values, host names, media types, auth file keys). Locale-free
// on purpose: RFC 9110 tokens and DNS names are case-insensitive in ASCII only.
#include <optional>
#include <string>
#include <string_view>

namespace libregistry::detail {

constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

/// RFC 3986 section 2.3 unreserved characters.
constexpr bool is_unreserved(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

/// Everything but the unreserved characters percent-encoded (`+` and `/` too): a query value or a form field.
inline std::string percent_encoded(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : text) {
        if (is_unreserved(c)) {
            out.push_back(c);
        } else {
            const auto u = static_cast<unsigned char>(c);
            out.push_back('%');
            out.push_back(hex[u >> 4]);
            out.push_back(hex[u & 0xF]);
        }
    }
    return out;
}

/// A leading decimal number ("12", "2.5") taken off `text`; nullopt when `text` does not start with one.
/// Computed by hand: strtod would follow the locale's decimal point.
inline std::optional<double> take_decimal(std::string_view& text) {
    std::size_t end = 0;
    double value = 0;
    while (end < text.size() && is_digit(text[end]))
        value = value * 10 + (text[end++] - '0');
    if (end == 0) return std::nullopt;
    if (end < text.size() && text[end] == '.') {
        ++end;
        double scale = 0.1;
        const std::size_t first = end;
        for (; end < text.size() && is_digit(text[end]); ++end, scale /= 10)
            value += (text[end] - '0') * scale;
        if (end == first) return std::nullopt;
    }
    text.remove_prefix(end);
    return value;
}

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
