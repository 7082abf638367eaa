#include "labnow/labnow_jobs.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

using namespace syncer;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> names_of(const std::vector<workflow_image>& images) {
    std::vector<std::string> out;
    for (const auto& i : images)
        out.push_back(i.name);
    return out;
}

// The shape of LabNow's build-docker.yml: jobs naming images, jobs that build nothing, a sync job.
const char* const labnow_workflow = R"(name: build-docker
on:
  push:
    branches: [main]
env:
  BUILDKIT_PROGRESS: plain
jobs:
  job-base:
    name: 'atom,base'
    runs-on: ubuntu-latest
    steps:
      - run: source ./tool.sh && build_image atom latest docker_atom/Dockerfile
  job-python:
    name: "python-3.13, python-3.12 ,,"
    needs: job-base
    runs-on: ubuntu-latest
  job-lint:
    runs-on: ubuntu-latest
  job-core:
    name: core,base
    needs: [job-python]
  job-docker_kit:
    name: docker-kit
  sync_images:
    needs: [job-base, job-python, job-core, job-docker_kit]
    runs-on: ubuntu-latest
)";

} // namespace

TEST_CASE("split_job_name: items trimmed, empty ones dropped") {
    struct split_case {
        std::string text;
        std::vector<std::string> expected;
    };
    const split_case cases[] = {
        {"atom,base", {"atom", "base"}},
        {" atom , base ", {"atom", "base"}},
        {"python-3.13", {"python-3.13"}},
        {"a,,b,", {"a", "b"}},
        {"", {}},
        {" , ,", {}},
        {"a,a", {"a", "a"}}, // merging is the workflow's job: it spans jobs
        {"\tcuda_12.8\t", {"cuda_12.8"}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        CHECK(split_job_name(c.text) == c.expected);
    }
}

TEST_CASE("is_repository_path: the distribution spec's path-component grammar") {
    struct path_case {
        std::string name;
        bool valid;
    };
    const path_case cases[] = {
        {"atom", true},
        {"python-3.13", true},
        {"cuda_12.8", true},
        {"py__std", true},
        {"a--b", true},
        {"team/app", true},
        {"docker-kit", true},
        {"", false},
        {"Base", false},
        {"-base", false},
        {"base-", false},
        {"a..b", false},
        {"a___b", false},
        {"a._b", false},
        {"team//app", false},
        {"/app", false},
        {"app/", false},
        {"my app", false},
        {"${{ matrix.img }}", false},
        {"base:latest", false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(is_repository_path(c.name) == c.valid);
    }
}

TEST_CASE("parse_workflow_images: names from every job, in order, duplicates merged, nameless jobs skipped") {
    auto images = parse_workflow_images(labnow_workflow, "build-docker.yml");
    REQUIRE(images.has_value());
    CHECK(names_of(*images) ==
          std::vector<std::string>{"atom", "base", "python-3.13", "python-3.12", "core", "docker-kit"});
    // Origins point at the `name` line of the job that named the image first.
    CHECK((*images)[0].origin == "build-docker.yml:9");
    CHECK((*images)[1].origin == "build-docker.yml:9");
    CHECK((*images)[2].origin == "build-docker.yml:14");
    CHECK((*images)[4].origin == "build-docker.yml:20");
}

TEST_CASE("parse_workflow_images: errors name the file and line") {
    struct error_case {
        std::string text;
        std::string message; // the message starts with this
    };
    const error_case cases[] = {
        // Not YAML: the parser's position.
        {"jobs:\n  job-a:\n    name: a\n  - b\n", "wf.yml:4: not a valid workflow (YAML)"},
        {"jobs:\n  job-a: [\n", "wf.yml:"},
        {"jobs:\n  job-a:\n    name: a\n   bad: indentation\n", "wf.yml:4: not a valid workflow (YAML)"},
        // Not a workflow.
        {"", "wf.yml:"},
        {"- a\n- b\n", "wf.yml:1: not a GitHub Actions workflow"},
        {"name: x\non: push\n", "wf.yml: no top-level `jobs` map"},
        {"name: x\njobs:\n", "wf.yml: no top-level `jobs` map"},
        {"name: x\njobs:\n  - a\n", "wf.yml:3: `jobs` must be a map"},
        {"jobs:\n  job-a: just text\n", "wf.yml:2: job `job-a` must be a map"},
        {"jobs:\n  job-a:\n", "wf.yml:2: job `job-a` must be a map"},
        // Names that are not image lists.
        {"jobs:\n  job-a:\n    name: [a, b]\n",
         "wf.yml:3: job `job-a`: `name` must be a comma-separated list"},
        {"jobs:\n  job-a:\n    runs-on: x\n    name: 'atom, Base'\n",
         "wf.yml:4: job `job-a`: \"Base\" is not an image repository name"},
        {"jobs:\n  job-a:\n    name: 'Build ${{ matrix.img }}'\n", "wf.yml:3: job `job-a`:"},
        // Nothing to mirror.
        {"jobs:\n  lint:\n    runs-on: x\n  test:\n    name: ''\n", "wf.yml: no job names an image"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        auto images = parse_workflow_images(c.text, "wf.yml");
        REQUIRE_FALSE(images.has_value());
        CHECK(images.error().message.rfind(c.message, 0) == 0);
        CAPTURE(images.error().message);
    }
}

TEST_CASE("load_workflow_images: reads the file; a missing one is an error naming it") {
    const auto dir = fs::temp_directory_path() / ("syncer-labnow-jobs-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const auto path = (dir / "build-docker.yml").string();
    {
        std::ofstream out(path);
        out << labnow_workflow;
    }
    auto images = load_workflow_images(path);
    REQUIRE(images.has_value());
    CHECK(images->size() == 6);
    CHECK(images->front().origin == path + ":9");

    auto missing = load_workflow_images((dir / "absent.yml").string());
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().message.find((dir / "absent.yml").string()) == 0);
    CHECK(missing.error().message.find("No such file") != std::string::npos);
    fs::remove_all(dir);
}
