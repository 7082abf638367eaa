#include "sync/detail/patterns.hpp"

#include "libregistry/sync/tag_policy.hpp"

#include <re2/re2.h>

#include <algorithm>

namespace libregistry::detail {

std::string_view regex_body(std::string_view entry) {
    return entry.substr(1, entry.size() - 2);
}

std::optional<std::string> regex_error(std::string_view entry) {
    const auto body = regex_body(entry);
    const RE2 re(re2::StringPiece(body.data(), body.size()), RE2::Quiet);
    if (re.ok()) return std::nullopt;
    return re.error();
}

pattern_matcher::pattern_matcher(const std::vector<std::string>& entries) {
    for (const auto& e : entries) {
        if (is_tag_regex(e)) {
            const auto body = regex_body(e);
            regexes_.push_back(std::make_unique<RE2>(re2::StringPiece(body.data(), body.size()), RE2::Quiet));
        } else {
            literals_.push_back(e);
        }
    }
}

pattern_matcher::~pattern_matcher() = default;
pattern_matcher::pattern_matcher(pattern_matcher&&) noexcept = default;
pattern_matcher& pattern_matcher::operator=(pattern_matcher&&) noexcept = default;

bool pattern_matcher::literal(std::string_view text) const {
    return std::find(literals_.begin(), literals_.end(), text) != literals_.end();
}

bool pattern_matcher::regex(const std::string& text) const {
    return std::any_of(regexes_.begin(), regexes_.end(),
                       [&](const std::unique_ptr<RE2>& re) { return RE2::PartialMatch(text, *re); });
}

} // namespace libregistry::detail
