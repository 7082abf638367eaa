#pragma once
// Rendering a sync run for people and machines: the --report JSON, the --dry-run plan, log lines.
#include <libregistry/sync/sync_runner.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>
#include <string_view>

namespace syncer {

/// The --report document: every image with its outcome, and totals. See docs/sync.md. `interrupted_by` names
/// the signal that stopped the run ("SIGINT"), empty when none did.
nlohmann::ordered_json report_json(const libregistry::sync_report& report, bool dry_run,
                                   std::string_view interrupted_by = {});

/// One line per image of a plan: `copy SRC -> DST (reason)` / `skip ...` / `fail ...`.
std::string plan_text(const libregistry::sync_report& report);

/// The closing summary line.
std::string summary_text(const libregistry::sync_report& report);

/// The line saying a run was stopped by `signal` ("SIGINT") and what it left undone.
std::string interrupted_text(const libregistry::sync_report& report, std::string_view signal);

/// Log output: text lines or JSON objects, to a file (--log) or stderr.
class logger {
public:
    logger(bool json, std::FILE* out) : json_(json), out_(out) {}
    void info(const std::string& message, const nlohmann::ordered_json& fields = {});
    void error(const std::string& message, const nlohmann::ordered_json& fields = {});
    /// One line per finished image.
    void image(const libregistry::image_result& r);
    bool to_terminal() const;

private:
    void write(const char* level, const std::string& message, const nlohmann::ordered_json& fields);
    bool json_;
    std::FILE* out_;
};

} // namespace syncer
