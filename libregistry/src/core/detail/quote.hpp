#pragma once
// Quoting text in error messages, and the error of a reference that does not parse: shared by the parsers of
// image references (reference.cpp), storage locations (transport.cpp) and manifests (manifest.cpp).
#include "libregistry/core/error.hpp"

#include <string>
#include <string_view>

namespace libregistry::detail {

/// `s` in double quotes. Appending, not `"\"" + std::string(s)`: g++ 12 reports a false -Wrestrict on the
/// latter.
inline std::string in_quotes(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out.append(1, '"').append(s).append(1, '"');
    return out;
}

/// errc::invalid_reference: `invalid reference "INPUT": WHY`.
inline error invalid_reference(std::string_view input, std::string_view why) {
    return make_error(errc::invalid_reference,
                      "invalid reference " + in_quotes(input) + ": " + std::string(why));
}

} // namespace libregistry::detail
