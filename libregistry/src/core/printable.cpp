#include "libregistry/core/printable.hpp"

#include <fmt/format.h>

namespace libregistry {
namespace {

// The length of the valid UTF-8 sequence at the start of `s` (RFC 3629: no overlongs, no surrogates, at most
// U+10FFFF) and its code point; 0 when it is not one.
std::size_t utf8_sequence(std::string_view s, char32_t& code) {
    const auto b0 = static_cast<unsigned char>(s[0]);
    std::size_t length = b0 < 0xc2 ? 0 : b0 < 0xe0 ? 2 : b0 < 0xf0 ? 3 : b0 < 0xf5 ? 4 : 0;
    if (length == 0 || s.size() < length) return 0;
    code = b0 & (0xff >> (length + 1));
    for (std::size_t i = 1; i < length; ++i) {
        const auto b = static_cast<unsigned char>(s[i]);
        if ((b & 0xc0) != 0x80) return 0;
        code = (code << 6) | (b & 0x3f);
    }
    const char32_t min = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
    return length;
}

} // namespace

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            char32_t code = 0;
            if (auto n = utf8_sequence(text.substr(i), code); n > 0) {
                // U+0080..U+009F: a terminal in UTF-8 mode takes them as C1 controls (CSI, OSC, ...).
                if (code <= 0x9f)
                    out += fmt::format("\\u{:04x}", static_cast<unsigned>(code));
                else
                    out.append(text.substr(i, n));
                i += n;
                continue;
            }
            out += fmt::format("\\x{:02x}", c); // not UTF-8
            ++i;
            continue;
        }
        switch (c) {
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case 0x1b:
            out += "\\e";
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                out += fmt::format("\\x{:02x}", c);
            else
                out.push_back(static_cast<char>(c));
        }
        ++i;
    }
    return out;
}

std::string printable(std::string_view text, std::size_t max) {
    if (text.size() <= max) return printable(text);
    return printable(text.substr(0, max)) + "...";
}

} // namespace libregistry
