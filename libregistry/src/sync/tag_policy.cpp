#include "libregistry/sync/tag_policy.hpp"

#include "libregistry/core/reference.hpp"
#include "libregistry/core/tag_version.hpp"

#include "sync/detail/patterns.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace libregistry {

namespace {

std::string_view trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    const auto last = s.find_last_not_of(" \t");
    return s.substr(first, last - first + 1);
}

struct candidate {
    std::string tag;
    std::optional<tag_version> version;
};

// Newest first by the tag text alone: versions by precedence, then the other tags; ties by the text.
bool newer_by_text(const candidate& a, const candidate& b) {
    if (a.version && b.version) {
        if (const auto c = compare_versions(*a.version, *b.version); c != 0) return c > 0;
    } else if (a.version || b.version) {
        return a.version.has_value();
    }
    return a.tag > b.tag;
}

} // namespace

bool is_tag_regex(std::string_view entry) {
    return entry.size() >= 3 && entry.front() == '/' && entry.back() == '/';
}

result<void> check_tag_policy(const tag_policy& policy) {
    for (const auto* list : {&policy.include, &policy.exclude})
        for (const auto& e : *list) {
            if (is_tag_regex(e)) {
                if (auto bad = detail::regex_error(e))
                    return make_error(errc::invalid_argument,
                                      fmt::format("\"{}\": invalid tag regex: {}", e, *bad));
            } else if (!is_valid_tag(e)) {
                return make_error(errc::invalid_argument,
                                  fmt::format("\"{}\" is neither a tag (A-Z a-z 0-9 _ . -, starting with a "
                                              "letter, digit or '_') nor a /regex/",
                                              e));
            }
        }
    if (!policy.semver.empty())
        if (auto range = parse_semver_range(policy.semver); !range) return range.error();
    if (policy.latest && *policy.latest == 0)
        return make_error(
            errc::invalid_argument,
            "latest: 0 keeps no tag; give a count of at least 1, or leave it out for every tag");
    return {};
}

std::vector<std::string> split_tag_patterns(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        const auto start = text.find_first_not_of(" \t");
        if (start == std::string_view::npos) break;
        text.remove_prefix(start);
        std::size_t end = std::string_view::npos;
        if (text.front() == '/') {
            for (auto slash = text.find('/', 1); slash != std::string_view::npos;
                 slash = text.find('/', slash + 1)) {
                const auto after = text.find_first_not_of(" \t", slash + 1);
                if (after == std::string_view::npos || text[after] == ',') {
                    end = after;
                    break;
                }
            }
        } else {
            end = text.find(',');
        }
        if (auto entry = trim(text.substr(0, end)); !entry.empty()) out.emplace_back(entry);
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return out;
}

result<tag_selection> select_tags(const std::vector<std::string>& listed, const tag_policy& policy,
                                  const created_times& created) {
    if (auto ok = check_tag_policy(policy); !ok) return ok.error();
    const detail::pattern_matcher include(policy.include);
    const detail::pattern_matcher exclude(policy.exclude);
    std::optional<semver_range> range;
    if (!policy.semver.empty()) range = *parse_semver_range(policy.semver);

    tag_selection out;
    std::vector<candidate> pool;
    for (const auto& tag : listed) {
        if (exclude.any(tag)) continue;
        if (include.literal(tag)) continue; // pinned, added below in include order
        if (!policy.include.empty() && !include.regex(tag)) continue;
        auto version = parse_tag_version(tag);
        if (range && !(version && semver_matches(*range, *version))) continue;
        pool.push_back({tag, std::move(version)});
    }
    for (const auto& entry : policy.include)
        if (!is_tag_regex(entry) && !exclude.any(entry) &&
            std::find(listed.begin(), listed.end(), entry) != listed.end() &&
            std::find(out.tags.begin(), out.tags.end(), entry) == out.tags.end())
            out.tags.push_back(entry);

    std::sort(pool.begin(), pool.end(), newer_by_text);
    pool.erase(std::unique(pool.begin(), pool.end(),
                           [](const candidate& a, const candidate& b) { return a.tag == b.tag; }),
               pool.end());
    const bool all_versions =
        std::all_of(pool.begin(), pool.end(), [](const candidate& c) { return c.version.has_value(); });
    if (policy.latest && pool.size() > *policy.latest && !all_versions) {
        for (const auto& c : pool)
            if (created.find(c.tag) == created.end()) out.need_created.push_back(c.tag);
        if (!out.need_created.empty()) {
            out.tags.clear();
            return out;
        }
        // An image without a creation time is the oldest; ties keep the order by text.
        std::stable_sort(pool.begin(), pool.end(), [&](const candidate& a, const candidate& b) {
            const auto& x = created.find(a.tag)->second;
            const auto& y = created.find(b.tag)->second;
            if (x.has_value() != y.has_value()) return x.has_value();
            return x && *x > *y;
        });
    }
    if (policy.latest && pool.size() > *policy.latest) pool.resize(*policy.latest);
    for (auto& c : pool)
        out.tags.push_back(std::move(c.tag));
    return out;
}

} // namespace libregistry
