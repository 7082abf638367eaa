#include "libregistry/core/referrers.hpp"

#include "libregistry/core/media_type.hpp"

#include "core/detail/ascii.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <set>
#include <utility>

namespace libregistry {

referrers_stats& referrers_stats::operator+=(const referrers_stats& other) {
    found += other.found;
    copied += other.copied;
    present += other.present;
    excluded += other.excluded;
    not_carried += other.not_carried;
    fallback_updates += other.fallback_updates;
    bytes_sent += other.bytes_sent;
    notes.insert(notes.end(), other.notes.begin(), other.notes.end());
    return *this;
}

std::string_view to_string(referrers_source source) noexcept {
    switch (source) {
    case referrers_source::api:
        return "api";
    case referrers_source::tag_schema:
        return "tag schema";
    case referrers_source::none:
        break;
    }
    return "none";
}

std::string referrers_tag(const digest& subject) {
    return fmt::format("{}-{}", subject.algorithm().substr(0, 32), subject.encoded().substr(0, 64));
}

std::string cosign_tag(const digest& subject, std::string_view suffix) {
    return fmt::format("{}.{}", referrers_tag(subject), suffix);
}

std::vector<std::string> cosign_tags_for(const digest& subject, const std::vector<std::string>& tags) {
    const auto prefix = referrers_tag(subject) + ".";
    std::vector<std::string> out;
    for (const auto& tag : tags)
        if (tag.size() > prefix.size() && tag.starts_with(prefix)) out.push_back(tag);
    return out;
}

std::optional<digest> subject_of_tag(std::string_view tag) {
    const auto dash = tag.find('-');
    if (dash == std::string_view::npos || dash == 0) return std::nullopt;
    auto encoded = tag.substr(dash + 1);
    if (const auto dot = encoded.find('.'); dot != std::string_view::npos) {
        if (dot + 1 == encoded.size()) return std::nullopt; // `sha256-<hex>.`: no suffix
        encoded = encoded.substr(0, dot);
    }
    auto d = digest::parse(fmt::format("{}:{}", tag.substr(0, dash), encoded));
    if (!d) return std::nullopt;
    return std::move(*d);
}

std::string referrers_target(std::string_view repository, const digest& subject,
                             const std::optional<std::string>& artifact_type) {
    auto target = fmt::format("/v2/{}/referrers/{}", repository, subject.str());
    if (artifact_type && !artifact_type->empty())
        target += "?artifactType=" + detail::percent_encoded(*artifact_type);
    return target;
}

result<std::vector<descriptor>> parse_referrers(std::string body, std::string_view content_type) {
    auto m = parse_manifest(std::move(body), content_type);
    if (!m) return m.error();
    if (m->kind != manifest_kind::index)
        return make_error(errc::invalid_manifest,
                          fmt::format("invalid manifest: a list of referrers must be an OCI image index, "
                                      "got {}",
                                      m->media_type.empty() ? "a manifest of unknown type" : m->media_type));
    return std::move(m->manifests);
}

descriptor referrer_descriptor(const manifest& referrer) {
    auto d = referrer.as_descriptor();
    if (d.artifact_type.empty() && referrer.config) d.artifact_type = referrer.config->media_type;
    d.annotations = referrer.annotations;
    return d;
}

std::vector<descriptor> filter_artifact_type(std::vector<descriptor> list,
                                             const std::optional<std::string>& artifact_type) {
    if (!artifact_type || artifact_type->empty()) return list;
    std::erase_if(list, [&](const descriptor& d) { return d.artifact_type != *artifact_type; });
    return list;
}

manifest referrers_index(const std::vector<descriptor>& referrers) {
    // Keys in the order the image-spec lists them, so the index reads like the ones registries write.
    nlohmann::ordered_json entries = nlohmann::ordered_json::array();
    for (const auto& d : referrers) {
        nlohmann::ordered_json entry;
        entry["mediaType"] = d.media_type;
        entry["digest"] = d.digest.str();
        entry["size"] = d.size;
        if (!d.artifact_type.empty()) entry["artifactType"] = d.artifact_type;
        if (!d.annotations.empty()) entry["annotations"] = d.annotations;
        entries.push_back(std::move(entry));
    }
    nlohmann::ordered_json index;
    index["schemaVersion"] = 2;
    index["mediaType"] = std::string(media_types::oci_index);
    index["manifests"] = std::move(entries);
    // What was just written parses: a failure here is a bug, not input.
    return parse_manifest(index.dump()).value();
}

std::vector<descriptor> merge_descriptors(std::vector<descriptor> existing,
                                          const std::vector<descriptor>& added) {
    std::set<digest> seen;
    for (const auto& d : existing)
        seen.insert(d.digest);
    for (const auto& d : added)
        if (seen.insert(d.digest).second) existing.push_back(d);
    return existing;
}

} // namespace libregistry
