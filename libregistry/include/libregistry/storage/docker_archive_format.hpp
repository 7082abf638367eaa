#pragma once
// The index of a `docker save` archive: `manifest.json`, an array of {Config, RepoTags, Layers} naming the
// archive's files (moby image/spec, "Combined Image JSON + Filesystem Changeset Format"), and the legacy
// `repositories` file. Pure parsers and writers; what is read is input, parsed strictly and bounded.
#include "libregistry/core/error.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry {

/// syncer's key in a manifest.json entry: the archive file holding the image's manifest exactly as it was
/// pulled, so reading the archive back gives the same manifest digest. docker load and skopeo (Go structs
/// decoded with encoding/json) ignore keys they do not know.
inline constexpr std::string_view docker_archive_manifest_key = "io.github.syncer.manifest";

/// The bound on manifest.json.
inline constexpr std::size_t max_docker_archive_index_size = 16 * 1024 * 1024;
/// Bounds on the images of one archive and the layers of one image.
inline constexpr std::size_t max_docker_archive_images = 10000;
inline constexpr std::size_t max_docker_archive_layers = 1000;

/// One entry of manifest.json. File names are safe_entry_name'd.
struct docker_archive_image {
    std::string config;
    std::vector<std::string> repo_tags; ///< `name:tag`, as written
    std::vector<std::string> layers;    ///< base layer first
    std::string manifest;               ///< docker_archive_manifest_key's file; empty when absent
};

/// Parses manifest.json: a JSON array (at most max_docker_archive_index_size bytes and
/// max_docker_archive_images entries) of objects with `Config` (a file name), `Layers` (an array of file
/// names, at most max_docker_archive_layers), `RepoTags` (null or an array of `name:tag` references with a
/// tag and no digest), and optionally docker_archive_manifest_key (a file name). Other keys (`Parent`,
/// `LayerSources`) are ignored, as docker load does. errc::invalid_archive naming `where` and the entry.
result<std::vector<docker_archive_image>> parse_docker_archive_index(std::string_view text,
                                                                     std::string_view where);

/// manifest.json for `images` (RepoTags an empty array when there are none).
std::string docker_archive_index_file(const std::vector<docker_archive_image>& images);

/// The legacy `repositories` file docker save writes beside manifest.json: {"name": {"tag": "<id>"}} with the
/// hex of the image's top layer file name as the id, as skopeo writes it. docker load reads manifest.json
/// when there is one.
std::string docker_archive_repositories_file(const std::vector<docker_archive_image>& images);

} // namespace libregistry
