// The --check listing of rules.
#include "output/rules_plan.hpp"
#include "text.hpp"

#include <fmt/format.h>

namespace syncer {

using namespace libregistry;

namespace {

std::string source_text(const sync_source& s) {
    switch (s.selector) {
    case tag_selector::all:
        return s.name() + " (every tag)";
    case tag_selector::listed:
        return s.name() + ":" + join(s.tags, ",");
    case tag_selector::regex:
        return s.name() + ":/" + s.regex + "/";
    case tag_selector::digest:
        return s.name() + "@" + (s.digest ? s.digest->str() : std::string("?"));
    }
    return s.name();
}

std::string destination_text(const sync_destination& d) {
    return d.tags.empty() ? d.name() : d.name() + ":" + join(d.tags, ",");
}

std::string platforms_text(const std::vector<platform>& platforms) {
    if (platforms.empty()) return "every platform";
    std::vector<std::string> names;
    for (const auto& p : platforms) {
        // --os or --arch alone leave the other part empty: any.
        auto os = p.os.empty() ? std::string("*") : p.os;
        auto arch = p.architecture.empty() ? std::string("*") : p.architecture;
        names.push_back(os + "/" + arch + (p.variant.empty() ? "" : "/" + p.variant));
    }
    return "platforms " + join(names, ",");
}

std::string policy_text(const tag_policy& p) {
    std::vector<std::string> parts;
    if (!p.include.empty()) parts.push_back("include " + join(p.include, ","));
    if (!p.exclude.empty()) parts.push_back("exclude " + join(p.exclude, ","));
    if (!p.semver.empty()) parts.push_back("semver " + p.semver);
    if (p.latest) parts.push_back(fmt::format("latest {}", *p.latest));
    return join(parts, "; ");
}

std::string referrers_text(const referrer_policy& r) {
    if (!r.enabled) return "no referrers";
    std::string out = "referrers";
    if (!r.include_types.empty()) out += " of " + join(r.include_types, ",");
    if (!r.exclude_types.empty()) out += " except " + join(r.exclude_types, ",");
    return out + fmt::format(" (depth {})", r.max_depth);
}

} // namespace

std::string rules_plan_text(const std::vector<sync_rule>& rules, const sync_options& options) {
    std::string out;
    std::size_t destinations = 0;
    std::size_t outside = 0;
    for (const auto& rule : rules) {
        std::vector<std::string> dests;
        for (const auto& d : rule.destinations)
            dests.push_back(destination_text(d));
        destinations += rule.destinations.size();
        std::vector<std::string> opts;
        if (auto policy = policy_text(rule.policy); !policy.empty()) opts.push_back(policy);
        opts.push_back(platforms_text(rule.platforms.empty() ? options.copy.platforms : rule.platforms));
        opts.push_back(referrers_text(rule.referrers ? *rule.referrers : options.referrers));
        if (rule.prune) opts.push_back(fmt::format("prune (at most {})", options.prune_max.str()));
        if (options.force) opts.push_back("force");
        if (!in_shard(rule.source, options.shard)) {
            opts.push_back(fmt::format("not in shard {}/{}", options.shard.index, options.shard.count));
            ++outside;
        }
        out += safe_text(fmt::format("{}  {} -> {}  [{}]", rule.origin, source_text(rule.source),
                                     join(dests, ", "), join(opts, "; ")));
        out += "\n";
    }
    out += fmt::format("{} {}, {} {}", rules.size(), rules.size() == 1 ? "rule" : "rules", destinations,
                       destinations == 1 ? "destination" : "destinations");
    if (outside > 0)
        out += fmt::format(" ({} outside shard {}/{})", outside, options.shard.index, options.shard.count);
    out += "; every file and flag is valid; no registry was contacted\n";
    return out;
}

} // namespace syncer
