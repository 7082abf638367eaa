#include "libregistry/sync/prune_plan.hpp"

#include "libregistry/core/printable.hpp"
#include "libregistry/core/referrers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace libregistry {

std::string prune_guard::str() const {
    return percent ? fmt::format("{}%", value) : fmt::format("{}", value);
}

result<prune_guard> parse_prune_guard(std::string_view text) {
    prune_guard g;
    auto digits = text;
    g.percent = !digits.empty() && digits.back() == '%';
    if (g.percent) digits.remove_suffix(1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), g.value);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
        (g.percent && g.value > 100))
        return make_error(errc::invalid_argument,
                          fmt::format("--prune-max \"{}\": expected a number of tags (20) or a percentage of "
                                      "a repository's tags from 0% to 100% (10%)",
                                      printable(text, 32)));
    return g;
}

std::size_t prune_limit(prune_guard guard, std::size_t tags) {
    if (!guard.percent) return guard.value;
    if (guard.value == 0) return 0;
    return std::max<std::size_t>(1, tags * guard.value / 100);
}

std::vector<sync_destination> repositories_to_prune(const std::vector<sync_rule>& rules) {
    std::vector<sync_destination> out;
    std::set<std::string> seen;
    for (const auto& rule : rules) {
        if (!rule.prune) continue;
        for (const auto& d : rule.destinations)
            if (seen.insert(d.name()).second) out.push_back(sync_destination{d.registry, d.repository, {}});
    }
    return out;
}

namespace {

bool is_listed_selector(tag_selector s) {
    return s == tag_selector::all || s == tag_selector::regex;
}

// Why the rules writing `name` do not give a trustworthy set of tags to keep, if they do not.
std::optional<std::string> untrusted_sources(const prune_input& in, const std::string& name) {
    for (const auto& rule : in.rules) {
        bool writes = std::any_of(rule.destinations.begin(), rule.destinations.end(),
                                  [&](const sync_destination& d) { return d.name() == name; });
        if (!writes) continue;
        auto source = rule.source.name();
        if (is_listed_selector(rule.source.selector)) {
            if (in.unlisted_sources.count(source))
                return fmt::format("the tags of {} ({}) could not be listed", source, rule.origin);
            auto listed = in.source_tags.find(source);
            if (listed == in.source_tags.end() || listed->second.empty())
                return fmt::format("{} ({}) listed no tags; an empty source is more likely a fault than a "
                                   "retirement of every tag",
                                   source, rule.origin);
        }
        bool selects = std::any_of(in.items.begin(), in.items.end(), [&](const sync_item& item) {
            return item.source.registry == rule.source.registry &&
                   item.source.repository == rule.source.repository && item.destination.name() == name;
        });
        if (!selects)
            return fmt::format("the rule {} selects no tag of {}; an empty selection is more likely a "
                               "mistake than a retirement of every tag",
                               rule.origin, source);
    }
    return std::nullopt;
}

} // namespace

std::vector<prune_target> plan_prune(const prune_input& in) {
    std::vector<prune_target> out;
    for (const auto& where : repositories_to_prune(in.rules)) {
        prune_target t;
        t.repository = where;
        auto name = where.name();
        for (const auto& rule : in.rules)
            if (rule.prune && std::any_of(rule.destinations.begin(), rule.destinations.end(),
                                          [&](const sync_destination& d) { return d.name() == name; })) {
                t.origin = rule.origin;
                break;
            }

        std::set<std::string> mapped;
        std::set<digest> by_digest;
        for (const auto& item : in.items) {
            if (item.destination.registry != where.registry ||
                item.destination.repository != where.repository)
                continue;
            if (item.destination.digest)
                by_digest.insert(*item.destination.digest);
            else
                mapped.insert(item.destination.identifier());
        }
        t.kept_digests.assign(by_digest.begin(), by_digest.end());

        auto listed = in.destination_tags.find(name);
        if (listed != in.destination_tags.end()) {
            for (const auto& tag : listed->second)
                if (mapped.count(tag) || subject_of_tag(tag))
                    t.kept.push_back(tag);
                else
                    t.deletions.push_back(tag);
            std::sort(t.kept.begin(), t.kept.end());
            std::sort(t.deletions.begin(), t.deletions.end());
        }

        auto untrusted = untrusted_sources(in, name);
        std::size_t tags = t.kept.size() + t.deletions.size();
        if (in.interrupted)
            t.refusal = "the run was interrupted; pruning waits for a run that completes";
        else if (auto failed = in.destination_failures.find(name); failed != in.destination_failures.end())
            t.refusal = fmt::format("listing its tags failed: {}", failed->second);
        else if (listed == in.destination_tags.end())
            t.refusal = "its tags were not listed";
        else if (untrusted)
            t.refusal = *untrusted;
        else if (in.failed_destinations.count(name))
            t.refusal = "an image copied to it failed in this run; pruning waits for a run where every image "
                        "is in place";
        else if (in.foreign_destinations.count(name))
            t.refusal = "rules of other shards also write it, and their tags are not known to this shard; "
                        "prune it from a run without --shard";
        else if (t.deletions.size() > prune_limit(in.guard, tags))
            t.refusal =
                fmt::format("it would delete {} of its {} tags, more than --prune-max {} allows ({}); "
                            "check the source, then raise --prune-max for one run to prune them",
                            t.deletions.size(), tags, in.guard.str(), prune_limit(in.guard, tags));
        out.push_back(std::move(t));
    }
    return out;
}

} // namespace libregistry
