// Rules back in the images-file format, for --output-success-images and --output-failed-images.
#include "config/sync_config.hpp"

#include <libregistry/core/transport.hpp>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <utility>

namespace syncer {

using namespace libregistry;

namespace {

// `oci:DIR:REPOSITORY` for a layout or archive (the images-file form), `HOST/REPOSITORY` for a registry.
std::string name_of(const reference& ref) {
    if (parse_storage_registry_name(ref.registry)) return ref.registry + ":" + ref.repository;
    return ref.name();
}

std::string source_key(const reference& ref) {
    if (ref.digest) return name_of(ref) + "@" + ref.digest->str();
    if (!ref.tag.empty()) return name_of(ref) + ":" + ref.tag;
    return name_of(ref);
}

// A digest destination is written without it: parse_destination takes none, and a digest source keeps its
// digest when the destination has no tag.
std::string destination_text(const reference& ref) {
    return ref.tag.empty() ? name_of(ref) : name_of(ref) + ":" + ref.tag;
}

} // namespace

std::string render_images(const std::vector<sync_item>& items, file_format format) {
    // Sources in first-seen order, each with its destinations once.
    std::vector<std::pair<std::string, std::vector<std::string>>> groups;
    for (const auto& item : items) {
        const auto key = source_key(item.source);
        auto group =
            std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == key; });
        if (group == groups.end()) group = groups.insert(groups.end(), {key, {}});
        auto destination = destination_text(item.destination);
        if (std::find(group->second.begin(), group->second.end(), destination) == group->second.end())
            group->second.push_back(std::move(destination));
    }

    if (format == file_format::json) {
        auto out = nlohmann::ordered_json::object();
        for (const auto& [source, destinations] : groups)
            out[source] = destinations;
        return out.dump(2) + "\n";
    }
    if (groups.empty()) return "{}\n";
    YAML::Emitter out;
    out << YAML::BeginMap;
    for (const auto& [source, destinations] : groups) {
        out << YAML::Key << YAML::DoubleQuoted << source << YAML::Value << YAML::BeginSeq;
        for (const auto& destination : destinations)
            out << YAML::DoubleQuoted << destination;
        out << YAML::EndSeq;
    }
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

} // namespace syncer
