#include "labnow/labnow_jobs.hpp"

#include "text.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iterator>
#include <set>

namespace syncer {

using namespace libregistry;

namespace {

// A workflow is a few kilobytes; a limit keeps a wrong path (a log, an image) from being read whole.
constexpr std::size_t max_workflow_size = 4 * 1024 * 1024;

error workflow_error(std::string_view where, std::string_view why) {
    return make_error(errc::invalid_argument, fmt::format("{}: {}", where, why));
}

/// `FILE:LINE` (1-based), or `FILE` when yaml-cpp has no position.
std::string at(std::string_view file, const YAML::Mark& mark) {
    return file_line(file, mark.is_null() ? -1 : mark.line);
}

bool is_lower_alnum(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool is_path_component(std::string_view c) noexcept {
    if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
    for (std::size_t i = 0; i < c.size();) {
        if (is_lower_alnum(c[i])) {
            ++i;
            continue;
        }
        // A separator run: one '.', one or two '_', or any number of '-'.
        const auto run_end = c.find_first_not_of(c[i], i);
        const auto run = run_end - i;
        if (c[i] == '.' && run != 1) return false;
        if (c[i] == '_' && run > 2) return false;
        if (c[i] != '.' && c[i] != '_' && c[i] != '-') return false;
        // Exactly one separator between alphanumeric runs: `a._b` is two.
        if (!is_lower_alnum(c[run_end])) return false;
        i = run_end;
    }
    return true;
}

} // namespace

std::vector<std::string> split_job_name(std::string_view text) {
    std::vector<std::string> out;
    while (true) {
        const auto comma = text.find(',');
        const auto item = trim(text.substr(0, comma));
        if (!item.empty()) out.emplace_back(item);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return out;
}

bool is_repository_path(std::string_view name) noexcept {
    if (name.empty()) return false;
    while (true) {
        const auto slash = name.find('/');
        if (!is_path_component(name.substr(0, slash))) return false;
        if (slash == std::string_view::npos) return true;
        name.remove_prefix(slash + 1);
    }
}

result<std::vector<workflow_image>> parse_workflow_images(std::string_view text, std::string_view file) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        return workflow_error(at(file, e.mark), fmt::format("not a valid workflow (YAML): {}", e.msg));
    }
    if (!root.IsMap())
        return workflow_error(at(file, root.Mark()),
                              "not a GitHub Actions workflow: the top level must be a map with a `jobs` key");
    const auto jobs = root["jobs"];
    if (!jobs.IsDefined() || jobs.IsNull())
        return workflow_error(file, "no top-level `jobs` map: there are no jobs to take image names from");
    if (!jobs.IsMap()) return workflow_error(at(file, jobs.Mark()), "`jobs` must be a map of job id -> job");

    std::vector<workflow_image> images;
    std::set<std::string, std::less<>> seen;
    for (const auto& job : jobs) {
        const auto id = job.first.IsScalar() ? job.first.Scalar() : std::string("?");
        if (!job.second.IsMap())
            return workflow_error(at(file, job.second.IsNull() ? job.first.Mark() : job.second.Mark()),
                                  fmt::format("job `{}` must be a map", id));
        const auto name = job.second["name"];
        // Jobs that build nothing (tests, the sync job itself) carry no name.
        if (!name.IsDefined() || name.IsNull()) continue;
        if (!name.IsScalar())
            return workflow_error(at(file, name.Mark()),
                                  fmt::format("job `{}`: `name` must be a comma-separated list of image "
                                              "names, e.g. 'atom,base'",
                                              id));
        const auto where = at(file, name.Mark());
        for (auto& item : split_job_name(name.Scalar())) {
            if (!is_repository_path(item))
                return workflow_error(where, fmt::format("job `{}`: \"{}\" is not an image repository name "
                                                         "(lower-case letters, digits and . _ - only)",
                                                         id, item));
            if (seen.insert(item).second) images.push_back({std::move(item), where});
        }
    }
    if (images.empty())
        return workflow_error(file, "no job names an image: a job's `name` lists the images it builds, e.g. "
                                    "`name: 'atom,base'`");
    return images;
}

result<std::vector<workflow_image>> load_workflow_images(const std::string& path) {
    auto text = read_small_file(path, max_workflow_size);
    if (!text) {
        auto why = text.error().message;
        if (text.error().code == errc::too_large)
            why += "; not a workflow file";
        else if (why.starts_with("cannot read"))
            why = "cannot read the workflow file" + why.substr(std::string_view("cannot read").size()) +
                  "; run from the repository root or pass --workflow-file";
        return workflow_error(path, why);
    }
    return parse_workflow_images(*text, path);
}

} // namespace syncer
