#pragma once
// Text as skopeo (a Go program) prints it, for output that scripts written against skopeo compare byte for
// byte: encoding/json's MarshalIndent and time.Time's String and RFC 3339 forms.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace syncer {

/// `value` as Go's json.MarshalIndent(v, "", "    ") writes it: members in the order given, `<`, `>`, `&`,
/// U+2028 and U+2029 escaped as \u003c..., other control characters as \u00XX (\n, \r, \t kept short),
/// invalid UTF-8 replaced by U+FFFD, `[]` and `{}` for empty containers. No final newline.
std::string go_json_indent(const nlohmann::ordered_json& value);

/// A time from an image config, parsed from RFC 3339 as Go's encoding/json reads it.
struct go_time {
    std::string date_time;  ///< "2024-03-05 06:07:08"
    std::string fraction;   ///< digits after the point, trailing zeros dropped ("" for none)
    int offset_minutes = 0; ///< east of UTC
    bool utc = false;       ///< written with `Z` (or an offset of zero, which Go reads as UTC here)
};

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)`; nullopt when `text` is not that.
std::optional<go_time> parse_go_time(std::string_view text);

/// time.Time.String(): `2024-03-05 06:07:08.123456789 +0000 UTC`, `... +0200 +0200` for a fixed offset.
std::string go_time_string(const go_time& t);

/// The RFC 3339 form Go's json writes back: `2024-03-05T06:07:08.123456789Z`, `...+02:00`.
std::string go_time_json(const go_time& t);

} // namespace syncer
