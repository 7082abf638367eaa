#include "libregistry/sync/sync_plan.hpp"

#include "libregistry/core/media_type.hpp"
#include "libregistry/core/printable.hpp"
#include "libregistry/core/referrers.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include <charconv>
#include <set>

namespace libregistry {

std::vector<std::string> remove_invalid_tags(std::vector<std::string>& tags) {
    std::vector<std::string> invalid;
    std::erase_if(tags, [&](std::string& t) {
        if (is_valid_tag(t)) return false;
        invalid.push_back(std::move(t));
        return true;
    });
    return invalid;
}

std::string invalid_tags_warning(std::string_view repository, const std::vector<std::string>& invalid) {
    constexpr std::size_t shown = 3;
    constexpr std::size_t max_shown_length = 64;
    std::string examples;
    for (std::size_t i = 0; i < invalid.size() && i < shown; ++i) {
        if (!examples.empty()) examples += ", ";
        examples += fmt::format("\"{}\"", printable(invalid[i], max_shown_length));
    }
    if (invalid.size() > shown) examples += ", ...";
    return fmt::format("{} listed {} tag{} that {} (letters, digits, '_', '.', '-'; at most 128 characters); "
                       "skipped: {}",
                       printable(repository), invalid.size(), invalid.size() == 1 ? "" : "s",
                       invalid.size() == 1 ? "is not a valid tag name" : "are not valid tag names", examples);
}

void apply_run_policy(std::vector<sync_rule>& rules, const tag_policy& run) {
    for (auto& rule : rules) {
        if (rule.source.selector != tag_selector::all && rule.source.selector != tag_selector::regex)
            continue;
        auto& own = rule.policy;
        own.exclude.insert(own.exclude.end(), run.exclude.begin(), run.exclude.end());
        if (own.include.empty()) own.include = run.include;
        if (own.semver.empty()) own.semver = run.semver;
        if (!own.latest) own.latest = run.latest;
    }
}

std::vector<sync_source> repositories_to_list(const std::vector<sync_rule>& rules) {
    std::vector<sync_source> out;
    std::set<std::string> seen;
    for (const auto& rule : rules) {
        const auto& s = rule.source;
        if (s.selector != tag_selector::all && s.selector != tag_selector::regex) continue;
        if (seen.insert(s.name()).second) out.push_back(s);
    }
    return out;
}

namespace {

reference make_ref(std::string registry, std::string repository, std::string tag,
                   std::optional<digest> d = {}) {
    reference r;
    r.registry = std::move(registry);
    r.repository = std::move(repository);
    r.tag = std::move(tag);
    r.digest = std::move(d);
    return r;
}

} // namespace

result<std::optional<tag_selection>> rule_tags(const sync_rule& rule, const tag_lists& tags,
                                               const repository_created_times& created) {
    const auto& s = rule.source;
    auto it = tags.find(s.name());
    if (it == tags.end()) return std::optional<tag_selection>{}; // listing failed; the runner reports it
    tag_selection out;
    if (s.selector == tag_selector::all) {
        out.tags = it->second;
    } else {
        RE2 re(s.regex);
        if (!re.ok())
            return make_error(errc::invalid_argument, fmt::format("{}: invalid tag regex /{}/: {}",
                                                                  rule.origin, s.regex, re.error()));
        for (const auto& t : it->second)
            if (RE2::PartialMatch(t, re)) out.tags.push_back(t);
    }
    // Tags of the tag schema and cosign come with their subject when the rule carries referrers, in an
    // order a strict destination accepts (subject first), and only for the subjects the rule selects.
    if (rule.referrers && rule.referrers->enabled)
        std::erase_if(out.tags, [](const std::string& t) { return subject_of_tag(t).has_value(); });
    if (rule.policy.empty()) return std::optional{std::move(out)};
    static const created_times none;
    const auto times = created.find(s.name());
    auto selected = select_tags(out.tags, rule.policy, times == created.end() ? none : times->second);
    if (!selected)
        return make_error(errc::invalid_argument,
                          fmt::format("{}: {}", rule.origin, selected.error().message));
    return std::optional{std::move(*selected)};
}

sync_item rule_item(const sync_rule& rule, const sync_destination& d) {
    sync_item item;
    item.source.registry = rule.source.registry;
    item.source.repository = rule.source.repository;
    item.destination.registry = d.registry;
    item.destination.repository = d.repository;
    item.origin = rule.origin;
    return item;
}

result<std::vector<sync_item>> expand_rules(const std::vector<sync_rule>& rules, const tag_lists& tags,
                                            const repository_created_times& created) {
    std::vector<sync_item> out;
    std::map<std::string, std::pair<std::string, std::string>>
        by_destination; // destination -> source, origin
    auto add = [&](sync_item item) -> result<void> {
        auto dst = item.destination.str();
        auto src = item.source.str();
        auto [it, inserted] = by_destination.emplace(dst, std::make_pair(src, item.origin));
        if (!inserted) {
            if (it->second.first == src) return {}; // the same pair twice: keep the first
            return make_error(
                errc::invalid_argument,
                fmt::format("{}: destination {} is also the destination of {} ({}); each destination "
                            "tag can have only one source",
                            item.origin, dst, it->second.first, it->second.second));
        }
        out.push_back(std::move(item));
        return {};
    };

    for (const auto& rule : rules) {
        const auto& s = rule.source;
        std::vector<std::string> source_tags;
        switch (s.selector) {
        case tag_selector::all:
        case tag_selector::regex: {
            auto selected = rule_tags(rule, tags, created);
            if (!selected) return selected.error();
            if (!*selected) continue;
            if (!(*selected)->need_created.empty())
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: latest: {} needs the creation times of {} tags of {}",
                                              rule.origin, rule.policy.latest.value_or(0),
                                              (*selected)->need_created.size(), s.name()));
            source_tags = std::move((*selected)->tags);
            break;
        }
        case tag_selector::listed:
            source_tags = s.tags;
            break;
        case tag_selector::digest:
            break;
        }

        for (const auto& d : rule.destinations) {
            if (s.selector == tag_selector::digest) {
                if (d.tags.size() > 1)
                    return make_error(
                        errc::invalid_argument,
                        fmt::format("{}: a digest source maps to at most one destination tag, {} has {}",
                                    rule.origin, d.name(), d.tags.size()));
                auto dst = d.tags.empty() ? make_ref(d.registry, d.repository, "", s.digest)
                                          : make_ref(d.registry, d.repository, d.tags.front());
                if (auto r =
                        add(sync_item{make_ref(s.registry, s.repository, "", s.digest), dst, rule.origin});
                    !r)
                    return r.error();
                continue;
            }
            if (!d.tags.empty() && d.tags.size() != source_tags.size() &&
                !(s.selector == tag_selector::listed && d.tags.size() == 1 && source_tags.size() == 1))
                return make_error(
                    errc::invalid_argument,
                    fmt::format("{}: {} names {} tags but the source has {}; give one destination tag "
                                "per source tag, in order, or none to keep the source's",
                                rule.origin, d.name(), d.tags.size(), source_tags.size()));
            for (std::size_t i = 0; i < source_tags.size(); ++i) {
                auto dst_tag = d.tags.empty() ? source_tags[i] : d.tags[i];
                sync_item item{make_ref(s.registry, s.repository, source_tags[i]),
                               make_ref(d.registry, d.repository, dst_tag), rule.origin};
                if (auto r = add(std::move(item)); !r) return r.error();
            }
        }
    }
    return out;
}

result<shard> parse_shard(std::string_view text) {
    auto slash = text.find('/');
    auto bad = [&] {
        return make_error(
            errc::invalid_argument,
            fmt::format("--shard \"{}\": expected K/N with 0 <= K < N, e.g. 0/3, 1/3, 2/3", text));
    };
    if (slash == std::string_view::npos) return bad();
    shard s;
    auto k = text.substr(0, slash);
    auto n = text.substr(slash + 1);
    if (std::from_chars(k.data(), k.data() + k.size(), s.index).ptr != k.data() + k.size() || k.empty())
        return bad();
    if (std::from_chars(n.data(), n.data() + n.size(), s.count).ptr != n.data() + n.size() || n.empty())
        return bad();
    if (s.count == 0 || s.index >= s.count) return bad();
    return s;
}

bool in_shard(const sync_source& source, shard s) {
    if (s.count <= 1) return true;
    std::uint64_t hash = 14695981039346656037ULL;
    for (unsigned char c : source.name()) {
        hash ^= c;
        hash *= 1099511628211ULL;
    }
    return hash % s.count == s.index;
}

std::vector<sync_action> plan_sync(const std::vector<sync_item>& items,
                                   const std::vector<observation>& observations, plan_options options) {
    std::vector<sync_action> out;
    out.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto& o = i < observations.size() ? observations[i] : observation{};
        sync_action a{items[i], action_kind::copy, {}, o.source};
        if (o.failure) {
            a.kind = action_kind::fail;
            a.reason = o.failure->message;
        } else if (!o.source) {
            a.kind = action_kind::fail;
            a.reason = fmt::format("{} not found at the source", items[i].source.str());
        } else if (options.platform_filter && kind_of(o.source_media_type) != manifest_kind::image &&
                   kind_of(o.source_media_type) != manifest_kind::schema1) {
            a.reason = "platform filter: compared after reading the source index";
        } else if (!o.destination) {
            a.reason = "missing at the destination";
        } else if (*o.destination == *o.source) {
            if (options.force) {
                a.reason = "in sync, pushed again (--force)";
            } else {
                a.kind = action_kind::skip;
                a.reason = "in sync (" + o.source->str() + ")";
            }
        } else {
            a.reason = fmt::format("destination has {}", o.destination->str());
        }
        out.push_back(std::move(a));
    }
    return out;
}

} // namespace libregistry
