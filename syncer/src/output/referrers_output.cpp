#include "output/referrers_output.hpp"

#include "output/progress.hpp"
#include "text.hpp"

#include <libregistry/core/printable.hpp>
#include <libregistry/core/redact.hpp>

#include <fmt/format.h>

#include <map>
#include <set>

namespace syncer {

using namespace libregistry;

namespace {

/// Longer annotation values (cosign bundles, certificates) are cut in the text tree; the JSON has them whole.
constexpr std::size_t max_annotation_shown = 100;

std::string count_of(int n, std::string_view one, std::string_view many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

/// The referrers found, by the digest of their subject, in discovery order.
using by_subject = std::map<std::string, std::vector<const referrer_node*>, std::less<>>;

by_subject group_by_subject(const referrer_discovery& discovery) {
    by_subject out;
    for (const auto& node : discovery.nodes)
        out[node.subject.str()].push_back(&node);
    return out;
}

std::string artifact_type_of(const referrer_node& node) {
    return node.desc.artifact_type.empty() ? node.desc.media_type : node.desc.artifact_type;
}

std::string annotation_text(const std::string& value) {
    if (value.size() <= max_annotation_shown) return safe_text(value);
    return fmt::format("{} ({} characters)", printable(scrub_secrets(value), max_annotation_shown),
                       value.size());
}

// discover_referrers names each digest once, so a walk from the image cannot loop; `seen` keeps it so
// whatever the nodes say.
void node_text(const by_subject& grouped, const std::string& subject, int depth, std::set<std::string>& seen,
               std::string& out) {
    const auto it = grouped.find(subject);
    if (it == grouped.end()) return;
    const std::string indent(static_cast<std::size_t>(depth) * 2, ' ');
    for (const auto* node : it->second) {
        const auto digest = node->desc.digest.str();
        if (!seen.insert(digest).second) continue;
        const auto size = node->desc.size >= 0 ? human_bytes(double(node->desc.size)) : "size unknown";
        out += fmt::format("{}{} {} {} via {}{}\n", indent, safe_text(artifact_type_of(*node)), digest, size,
                           to_string(node->via),
                           node->tag.empty() ? std::string() : fmt::format(" {}", safe_text(node->tag)));
        for (const auto& [key, value] : node->desc.annotations)
            out += fmt::format("{}  annotation {}: {}\n", indent, safe_text(key), annotation_text(value));
        node_text(grouped, digest, depth + 1, seen, out);
    }
}

nlohmann::ordered_json nodes_json(const by_subject& grouped, const std::string& subject,
                                  std::set<std::string>& seen) {
    auto out = nlohmann::ordered_json::array();
    const auto it = grouped.find(subject);
    if (it == grouped.end()) return out;
    for (const auto* node : it->second) {
        const auto digest = node->desc.digest.str();
        if (!seen.insert(digest).second) continue;
        nlohmann::ordered_json j;
        j["artifact_type"] = artifact_type_of(*node);
        j["digest"] = digest;
        j["media_type"] = node->desc.media_type;
        j["size"] = node->desc.size;
        j["via"] = std::string(to_string(node->via));
        if (!node->tag.empty()) j["tag"] = node->tag;
        auto annotations = nlohmann::ordered_json::object();
        for (const auto& [key, value] : node->desc.annotations)
            annotations[key] = value;
        j["annotations"] = std::move(annotations);
        j["referrers"] = nodes_json(grouped, digest, seen);
        out.push_back(std::move(j));
    }
    return out;
}

std::string left_out_text(const referrer_discovery& d) {
    std::string out;
    if (d.excluded > 0) out += fmt::format("{} excluded by type", d.excluded);
    if (d.too_deep > 0)
        out += fmt::format("{}{} beyond the depth bound (--referrers-depth)", out.empty() ? "" : ", ",
                           d.too_deep);
    return out;
}

} // namespace

bool has_referrers(const referrers_stats& s) {
    return s.found > 0 || s.copied > 0 || s.present > 0 || s.excluded > 0 || s.not_carried > 0 ||
           s.fallback_updates > 0 || !s.notes.empty();
}

std::string referrers_outcome(const referrers_stats& s) {
    if (!has_referrers(s)) return {};
    std::string out = count_of(s.copied, "referrer copied", "referrers copied");
    if (s.present > 0) out += fmt::format(", {} already there", s.present);
    if (s.excluded > 0) out += fmt::format(", {} excluded by type", s.excluded);
    if (s.not_carried > 0) out += fmt::format(", {} not carried", s.not_carried);
    return out;
}

nlohmann::ordered_json referrers_stats_json(const referrers_stats& s) {
    return {
        {"found", s.found},       {"copied", s.copied},           {"present", s.present},
        {"excluded", s.excluded}, {"not_carried", s.not_carried}, {"fallback_updates", s.fallback_updates}};
}

std::string referrers_tree_text(const referrers_tree& tree) {
    const auto grouped = group_by_subject(tree.discovery);
    std::string out =
        fmt::format("{} {} {}\n", safe_text(tree.image), tree.digest.str(), safe_text(tree.media_type));
    std::set<std::string> seen;
    node_text(grouped, tree.digest.str(), 1, seen, out);
    for (const auto& child : tree.children) {
        if (grouped.find(child.digest.str()) == grouped.end()) continue;
        out += fmt::format("  child {}{}\n", child.digest.str(),
                           child.platform ? fmt::format(" {}", safe_text(child.platform->str()))
                                          : std::string());
        node_text(grouped, child.digest.str(), 2, seen, out);
    }
    const auto left_out = left_out_text(tree.discovery);
    const auto shown = static_cast<int>(seen.size());
    if (shown == 0)
        out += left_out.empty() ? "no referrers\n" : fmt::format("no referrers ({})\n", left_out);
    else
        out += left_out.empty()
                   ? fmt::format("{}\n", count_of(shown, "referrer", "referrers"))
                   : fmt::format("{} ({})\n", count_of(shown, "referrer", "referrers"), left_out);
    return out;
}

nlohmann::ordered_json referrers_tree_json(const referrers_tree& tree) {
    const auto grouped = group_by_subject(tree.discovery);
    std::set<std::string> seen;
    nlohmann::ordered_json j;
    j["image"] = tree.image;
    j["digest"] = tree.digest.str();
    j["media_type"] = tree.media_type;
    j["referrers"] = nodes_json(grouped, tree.digest.str(), seen);
    auto children = nlohmann::ordered_json::array();
    for (const auto& child : tree.children) {
        nlohmann::ordered_json c;
        c["digest"] = child.digest.str();
        c["platform"] =
            child.platform ? nlohmann::ordered_json(child.platform->str()) : nlohmann::ordered_json(nullptr);
        c["referrers"] = nodes_json(grouped, child.digest.str(), seen);
        children.push_back(std::move(c));
    }
    j["children"] = std::move(children);
    j["excluded"] = tree.discovery.excluded;
    j["beyond_depth"] = tree.discovery.too_deep;
    j["notes"] = tree.discovery.notes;
    return j;
}

} // namespace syncer
