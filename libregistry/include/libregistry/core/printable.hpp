#pragma once
// Text from the other side (registry error bodies, reason phrases, tag names, header values) made safe for a
// terminal and for a line-oriented log: control characters cannot clear a screen, set a window title or start
// a forged log line.
#include <string>
#include <string_view>

namespace libregistry {

/// `text` with every C0 control (including CR, LF and TAB), DEL and C1 control (U+0080 to U+009F, as UTF-8,
/// and lone bytes 0x80 to 0x9F) written as a visible escape: `\n`, `\r`, `\t`, `\e` for ESC, `\xNN`
/// otherwise. Everything else, UTF-8 included, is kept.
std::string printable(std::string_view text);

/// printable(), cut to at most `max` characters of input with "..." appended when longer.
std::string printable(std::string_view text, std::size_t max);

} // namespace libregistry
