#pragma once
// --metrics-file: a run's numbers as a Prometheus textfile (the text exposition format, as node_exporter's
// textfile collector reads it), written atomically so that the collector never reads half a file.
#include <libregistry/client/remote_registry.hpp>
#include <libregistry/sync/sync_runner.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace syncer {

/// What one registry's client counted during the run.
struct registry_metrics {
    std::string registry;
    libregistry::remote_statistics stats;
};

/// Everything the file says about a run.
struct run_metrics {
    libregistry::sync_totals totals;
    double duration_seconds = 0;
    bool succeeded = false;
    double finished_at = 0; ///< Unix time, seconds
    /// The last successful run's end: `finished_at` when this one succeeded, else what the previous file said
    /// (nullopt: never, as far as the file knows).
    std::optional<double> last_success;
    std::vector<registry_metrics> registries;
    /// The adaptive limits of each registry the run called.
    std::vector<libregistry::registry_concurrency> concurrency;
};

/// A label value escaped as the exposition format requires: `\` as `\\`, `"` as `\"`, a line feed as `\n`.
std::string escape_label_value(std::string_view value);

/// The file's text: HELP and TYPE lines and one sample per value, every name prefixed `syncer_`, every
/// registry name a `registry` label (escaped). Pure.
std::string metrics_text(const run_metrics& metrics);

/// The value of `syncer_last_success_timestamp_seconds` in a previous file's text; nullopt when absent or
/// unreadable.
std::optional<double> previous_last_success(std::string_view text);

/// `metrics` with its last success filled in: now when it succeeded, else read from the file at `path`.
run_metrics with_last_success(run_metrics metrics, const std::string& path);

/// Writes `text` to `path` atomically: a temporary file in the same directory (named with a leading dot,
/// which the textfile collector skips, and without the .prom suffix), mode 0644 (it holds no secret; the text
/// is scrubbed of the known ones all the same), then renamed over `path`. Throws usage_error naming the path.
void write_metrics_file(const std::string& path, const std::string& text);

/// Throws usage_error when the directory of `path` does not exist or cannot be written, so that a mistyped
/// path costs no run.
void check_metrics_path(const std::string& path);

} // namespace syncer
