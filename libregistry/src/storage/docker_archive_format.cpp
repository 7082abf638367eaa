#include "libregistry/storage/docker_archive_format.hpp"

#include "libregistry/core/printable.hpp"
#include "libregistry/core/reference.hpp"
#include "libregistry/storage/tar.hpp"

#include "storage/detail/files.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <map>

namespace libregistry {

using json = nlohmann::json;

namespace {

result<std::string> file_name(const json& j, std::string_view where, const std::string& at) {
    if (!j.is_string())
        return detail::invalid_archive(where, at + " is not a string (a file name in the archive)");
    auto name = safe_entry_name(j.get_ref<const std::string&>(), where);
    if (!name) return detail::invalid_archive(where, fmt::format("{}: {}", at, name.error().message));
    return name;
}

result<docker_archive_image> parse_image(const json& j, std::string_view where, std::size_t n) {
    const auto at = fmt::format("[{}]", n);
    if (!j.is_object()) return detail::invalid_archive(where, at + " is not an object");
    docker_archive_image image;
    const auto config = j.find("Config");
    if (config == j.end()) return detail::invalid_archive(where, at + ".Config is missing");
    auto name = file_name(*config, where, at + ".Config");
    if (!name) return name.error();
    image.config = std::move(*name);
    const auto layers = j.find("Layers");
    if (layers == j.end() || !layers->is_array())
        return detail::invalid_archive(where, at + ".Layers is missing or not an array");
    if (layers->size() > max_docker_archive_layers)
        return detail::invalid_archive(where,
                                       fmt::format("{}.Layers has {} entries, more than the {} accepted", at,
                                                   layers->size(), max_docker_archive_layers));
    for (std::size_t i = 0; i < layers->size(); ++i) {
        auto layer = file_name((*layers)[i], where, fmt::format("{}.Layers[{}]", at, i));
        if (!layer) return layer.error();
        image.layers.push_back(std::move(*layer));
    }
    if (const auto tags = j.find("RepoTags"); tags != j.end() && !tags->is_null()) {
        if (!tags->is_array()) return detail::invalid_archive(where, at + ".RepoTags is not an array");
        for (std::size_t i = 0; i < tags->size(); ++i) {
            const auto& t = (*tags)[i];
            const auto tat = fmt::format("{}.RepoTags[{}]", at, i);
            if (!t.is_string()) return detail::invalid_archive(where, tat + " is not a string");
            const auto& text = t.get_ref<const std::string&>();
            auto ref = parse_reference(text);
            if (!ref || ref->tag.empty() || ref->digest || text.starts_with("docker://"))
                return detail::invalid_archive(
                    where, fmt::format("{} \"{}\" is not a NAME:TAG reference", tat, printable(text, 200)));
            image.repo_tags.push_back(text);
        }
    }
    if (const auto m = j.find(docker_archive_manifest_key); m != j.end()) {
        auto file = file_name(*m, where, fmt::format("{}.{}", at, docker_archive_manifest_key));
        if (!file) return file.error();
        image.manifest = std::move(*file);
    }
    return image;
}

} // namespace

result<std::vector<docker_archive_image>> parse_docker_archive_index(std::string_view text,
                                                                     std::string_view where) {
    if (text.size() > max_docker_archive_index_size)
        return detail::invalid_archive(where, fmt::format("{} bytes, more than the {} accepted", text.size(),
                                                          max_docker_archive_index_size));
    const auto j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return detail::invalid_archive(where, "not valid JSON");
    if (!j.is_array()) return detail::invalid_archive(where, "not a JSON array of images");
    if (j.size() > max_docker_archive_images)
        return detail::invalid_archive(
            where, fmt::format("{} images, more than the {} accepted", j.size(), max_docker_archive_images));
    std::vector<docker_archive_image> out;
    for (std::size_t i = 0; i < j.size(); ++i) {
        auto image = parse_image(j[i], where, i);
        if (!image) return image.error();
        out.push_back(std::move(*image));
    }
    return out;
}

std::string docker_archive_index_file(const std::vector<docker_archive_image>& images) {
    json out = json::array();
    for (const auto& image : images) {
        json entry = json::object();
        entry["Config"] = image.config;
        entry["RepoTags"] = image.repo_tags;
        entry["Layers"] = image.layers;
        if (!image.manifest.empty()) entry[std::string(docker_archive_manifest_key)] = image.manifest;
        out.push_back(std::move(entry));
    }
    return out.dump();
}

std::string docker_archive_repositories_file(const std::vector<docker_archive_image>& images) {
    json out = json::object();
    for (const auto& image : images) {
        if (image.layers.empty()) continue;
        auto id = image.layers.back();
        id = id.substr(id.rfind('/') + 1);
        if (const auto dot = id.find('.'); dot != std::string::npos) id.resize(dot);
        for (const auto& repo_tag : image.repo_tags) {
            const auto colon = repo_tag.rfind(':');
            out[repo_tag.substr(0, colon)][repo_tag.substr(colon + 1)] = id;
        }
    }
    return out.dump();
}

} // namespace libregistry
