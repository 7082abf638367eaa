#pragma once
// Durations as people write and read them: `90s`, `5m`, `1h30m` on a command line; `5h 12m` in a message.
#include "libregistry/core/error.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace libregistry {

/// Parses a duration: a number of seconds (`300`), or numbers each followed by a unit, largest first
/// (`90s`, `5m`, `1h30m`, `2h 15m`, `1d`), units `d`, `h`, `m`, `s`. errc::invalid_argument for anything
/// else, naming what was expected. At most 30 days.
result<std::chrono::milliseconds> parse_duration(std::string_view text);

/// The two largest units of `d`, rounded up to a whole second: `45s`, `1m 30s`, `5h 12m`, `2d 3h`, `0s`.
std::string format_duration(std::chrono::milliseconds d);

} // namespace libregistry
