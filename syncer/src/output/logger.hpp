#pragma once
// Log output: one line per message, as text or as a JSON object, to a file (--log) or stderr; and the lines
// syncer writes to stderr outside a command's log (usage errors, warnings about files, the stop notice),
// which follow --log-format too.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace syncer {

/// Every string in `j` (values at any depth) with the known secrets scrubbed (libregistry::scrub_secrets).
void scrub_secrets_in(nlohmann::ordered_json& j);

/// `2026-12-05T18:39:08.123Z`: UTC, milliseconds.
std::string log_timestamp(std::chrono::system_clock::time_point t);

/// One JSON log line (no newline): `time`, `level`, `event` (the field `event` of `fields`, else "message"),
/// `msg`, then the other fields; secrets scrubbed, invalid UTF-8 replaced.
std::string json_log_line(std::chrono::system_clock::time_point t, std::string_view level,
                          const std::string& message, const nlohmann::ordered_json& fields);

class logger {
public:
    logger(bool json, std::FILE* out) : json_(json), out_(out) {}
    /// `fields` may name the line's kind as `event` ("image", "summary", "failed_image", ...); JSON lines
    /// carry it, text lines do not.
    void info(const std::string& message, const nlohmann::ordered_json& fields = {});
    void warning(const std::string& message, const nlohmann::ordered_json& fields = {});
    void error(const std::string& message, const nlohmann::ordered_json& fields = {});
    bool to_terminal() const;
    bool json() const { return json_; }

private:
    void write(const char* level, const std::string& message, const nlohmann::ordered_json& fields);
    bool json_;
    std::FILE* out_;
};

/// From now on, stderr_line writes JSON log lines (--log-format json); set before anything can fail.
void set_stderr_json(bool json);
bool stderr_json();

/// Called before stderr_line writes: the progress block on a terminal clears itself there, so that a line
/// never lands in the middle of it. Empty for none.
void set_before_stderr_line(std::function<void()> hook);

/// A line on stderr outside a command's log. As text, `text` as it is (callers prefix it, e.g.
/// `syncer: warning: ...`; control characters and secrets are made safe); as JSON, a log line with `level`,
/// `event`, `message` (the same text without the prefix) and `fields`.
void stderr_line(std::string_view level, std::string_view event, const std::string& text,
                 const std::string& message, const nlohmann::ordered_json& fields = {});

} // namespace syncer
