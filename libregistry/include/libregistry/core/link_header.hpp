#pragma once
// RFC 8288 Link headers as registries send them for tag-list pagination (distribution-spec "Listing Tags").
#include <optional>
#include <string>
#include <string_view>

namespace libregistry {

/// The target of the `rel="next"` link, verbatim (may be relative, may carry an opaque page token); nullopt
/// when there is none or the header is malformed.
std::optional<std::string> next_link(std::string_view header);

} // namespace libregistry
