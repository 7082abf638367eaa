#pragma once
// Lists of patterns, each a literal or a `/regex/` (RE2, unanchored): tag policies match tags with them,
// referrer policies artifact types.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}

namespace libregistry::detail {

/// What is between the slashes of a `/regex/` entry (is_tag_regex).
std::string_view regex_body(std::string_view entry);

/// RE2's reason a `/regex/` entry does not compile; nullopt when it does.
std::optional<std::string> regex_error(std::string_view entry);

/// The entries of a list, each a literal or a compiled regex.
class pattern_matcher {
public:
    explicit pattern_matcher(const std::vector<std::string>& entries);
    ~pattern_matcher();
    pattern_matcher(pattern_matcher&&) noexcept;
    pattern_matcher& operator=(pattern_matcher&&) noexcept;

    bool literal(std::string_view text) const;
    bool regex(const std::string& text) const;
    bool any(const std::string& text) const { return literal(text) || regex(text); }
    bool has_regex() const { return !regexes_.empty(); }

private:
    std::vector<std::string> literals_;
    std::vector<std::unique_ptr<re2::RE2>> regexes_;
};

} // namespace libregistry::detail
