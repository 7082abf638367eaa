#pragma once
// Which images a LabNow build workflow produces. Each job of the workflow's top-level `jobs` map that has a
// `name` builds the images that name lists, comma-separated (`name: 'atom,base'`); `syncer jobs` mirrors
// exactly those. Pure: text in, names out; the file is read by load_workflow_images only.
#include <libregistry/core/error.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace syncer {

struct workflow_image {
    std::string name;   ///< repository path under the image namespace, e.g. `python-3.13`
    std::string origin; ///< where it was named (`build-docker.yml:14`), for messages and the report
};

/// A job name split at commas: items trimmed, empty ones dropped, nothing validated.
std::vector<std::string> split_job_name(std::string_view text);

/// A repository path as the distribution spec defines it: `component(/component)*`, each component
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
bool is_repository_path(std::string_view name) noexcept;

/// The images the jobs of a workflow name, in first-seen order with duplicates merged; jobs without a
/// `name` (or with an empty one) are skipped. Fails, naming `file:line`, when the text is not YAML, has no
/// top-level `jobs` map, a job is not a map, a `name` is not a string, an item is not a repository path, or
/// no job names any image: each of these used to end in a silent, successful run that mirrored nothing.
libregistry::result<std::vector<workflow_image>> parse_workflow_images(std::string_view text,
                                                                       std::string_view file);

/// Reads `path` and parses it as above; a missing or unreadable file is an error naming it.
libregistry::result<std::vector<workflow_image>> load_workflow_images(const std::string& path);

} // namespace syncer
