#pragma once
// Durations as people write and read them: `90s`, `5m`, `1h30m` on a command line; `5h 12m` in a message.
#include "libregistry/core/error.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace libregistry {

/// Parses a duration: a number of seconds (`300`, `2.5`), or numbers each followed by a unit, largest first,
/// each unit once, optionally separated by spaces (`90s`, `5m`, `1h30m`, `2h 15m`, `1d`, `0.5s`, `1500ms`);
/// units `d`, `h`, `m` or `min`, `s`, `ms` in any case. errc::invalid_argument for anything else, naming
/// what was expected. At most 30 days.
result<std::chrono::milliseconds> parse_duration(std::string_view text);

/// For messages: `250ms` and `1.5s` below a minute; above, the two largest units rounded up to a whole
/// second: `1m 30s`, `5h 12m`, `2d 3h`. `0s` for zero or less.
std::string format_duration(std::chrono::milliseconds d);

} // namespace libregistry
