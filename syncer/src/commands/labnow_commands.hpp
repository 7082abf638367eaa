#pragma once
// `syncer jobs` and `syncer sync-image`: the LabNow pipelines' mirroring steps (run_jobs.py and run_sync.py
// of their docker-kit image) as syncer commands. Flags and environment -> mirror_request -> one sync run.
#include <CLI/CLI.hpp>

#include <functional>

namespace syncer {

/// `jobs`: mirrors every image the jobs of a build workflow name.
std::function<int()> add_jobs_command(CLI::App& app);
/// `sync-image`: mirrors one `namespace/name`, all of its tags or the listed ones.
std::function<int()> add_sync_image_command(CLI::App& app);

} // namespace syncer
