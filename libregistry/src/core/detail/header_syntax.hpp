#pragma once
// The RFC 9110 section 5.6 building blocks that header parsers share (WWW-Authenticate, Link): tokens,
// optional whitespace, list separators and quoted strings. Private to libregistry.
#include "core/detail/ascii.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace libregistry::detail {

// RFC 9110 section 5.6.2: tchar.
constexpr bool is_tchar(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

/// CTL other than HTAB, which quoted strings may not carry.
constexpr bool is_control(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
}

/// A position in a header value.
class header_cursor {
public:
    explicit header_cursor(std::string_view text) : text_(text) {}

protected:
    bool at_end() const noexcept { return pos_ >= text_.size(); }
    char peek(std::size_t ahead = 0) const noexcept {
        return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
    }

    void skip_ows() noexcept {
        while (!at_end() && (peek() == ' ' || peek() == '\t'))
            ++pos_;
    }

    // RFC 9110 section 5.6.1: list recipients accept and ignore empty elements ("a, , b").
    void skip_list_separators() noexcept {
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == ','))
            ++pos_;
    }

    std::string_view take_token() noexcept {
        const auto start = pos_;
        while (!at_end() && is_tchar(peek()))
            ++pos_;
        return text_.substr(start, pos_ - start);
    }

    // RFC 9110 section 5.6.4: quoted-string with quoted-pair escapes, the opening DQUOTE at the cursor.
    // nullopt with `problem` set when it is unterminated or carries a control character.
    std::optional<std::string> take_quoted_string(std::string_view& problem) {
        ++pos_;
        std::string value;
        while (!at_end()) {
            const char c = peek();
            ++pos_;
            if (c == '"') return value;
            if (c == '\\') {
                if (at_end()) break;
                if (is_control(peek())) {
                    problem = "control character in quoted-pair";
                    return std::nullopt;
                }
                value.push_back(peek());
                ++pos_;
                continue;
            }
            if (is_control(c)) {
                problem = "control character in quoted string";
                return std::nullopt;
            }
            value.push_back(c);
        }
        problem = "unterminated quoted string";
        return std::nullopt;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
};

} // namespace libregistry::detail
