#include "output/logger.hpp"

#include "text.hpp"

#include <libregistry/core/redact.hpp>

#include <fmt/format.h>
#include <unistd.h>

#include <ctime>
#include <iostream>

namespace syncer {

namespace {

bool stderr_as_json = false;
std::function<void()> before_stderr_line;

} // namespace

void scrub_secrets_in(nlohmann::ordered_json& j) {
    if (j.is_string()) {
        j = libregistry::scrub_secrets(j.get_ref<const std::string&>());
    } else if (j.is_structured()) {
        for (auto& item : j)
            scrub_secrets_in(item);
    }
}

std::string log_timestamp(std::chrono::system_clock::time_point t) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    return fmt::format("{}.{:03}Z", stamp, ms % 1000);
}

std::string json_log_line(std::chrono::system_clock::time_point t, std::string_view level,
                          const std::string& message, const nlohmann::ordered_json& fields) {
    nlohmann::ordered_json j;
    j["time"] = log_timestamp(t);
    j["level"] = std::string(level);
    j["event"] = fields.is_object() && fields.contains("event") ? fields["event"] : "message";
    j["msg"] = message;
    if (fields.is_object())
        for (const auto& [k, v] : fields.items())
            if (k != "event") j[k] = v;
    scrub_secrets_in(j);
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool logger::to_terminal() const {
    return isatty(fileno(out_)) == 1;
}

void logger::info(const std::string& message, const nlohmann::ordered_json& fields) {
    write("info", message, fields);
}
void logger::warning(const std::string& message, const nlohmann::ordered_json& fields) {
    write("warning", message, fields);
}
void logger::error(const std::string& message, const nlohmann::ordered_json& fields) {
    write("error", message, fields);
}

void logger::write(const char* level, const std::string& message, const nlohmann::ordered_json& fields) {
    const auto now = std::chrono::system_clock::now();
    if (json_) {
        std::fprintf(out_, "%s\n", json_log_line(now, level, message, fields).c_str());
    } else {
        // Messages carry registry-supplied text (error bodies, tag names): no control character may reach a
        // terminal or start a forged line, and no secret a registry echoed may reach the log.
        std::fprintf(out_, "%s %s %s\n", log_timestamp(now).c_str(), level, safe_text(message).c_str());
    }
    std::fflush(out_);
}

void set_stderr_json(bool json) {
    stderr_as_json = json;
}

bool stderr_json() {
    return stderr_as_json;
}

void set_before_stderr_line(std::function<void()> hook) {
    before_stderr_line = std::move(hook);
}

void stderr_line(std::string_view level, std::string_view event, const std::string& text,
                 const std::string& message, const nlohmann::ordered_json& fields) {
    std::string out;
    if (stderr_as_json) {
        auto all = fields.is_object() ? fields : nlohmann::ordered_json::object();
        all["event"] = std::string(event);
        out = json_log_line(std::chrono::system_clock::now(), level, message, all);
    } else {
        out = safe_text(text);
    }
    // One write, so that a line is never split by the progress block or another thread's line.
    out += '\n';
    if (before_stderr_line) before_stderr_line();
    std::cerr << out << std::flush;
}

} // namespace syncer
