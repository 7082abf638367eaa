#include "output/logger.hpp"

#include "text.hpp"

#include <libregistry/core/redact.hpp>

#include <unistd.h>

#include <ctime>

namespace syncer {

void scrub_secrets_in(nlohmann::ordered_json& j) {
    if (j.is_string()) {
        j = libregistry::scrub_secrets(j.get_ref<const std::string&>());
    } else if (j.is_structured()) {
        for (auto& item : j)
            scrub_secrets_in(item);
    }
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
    auto now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    if (json_) {
        nlohmann::ordered_json j;
        j["time"] = stamp;
        j["level"] = level;
        j["msg"] = message;
        if (fields.is_object())
            for (const auto& [k, v] : fields.items())
                j[k] = v;
        scrub_secrets_in(j);
        std::fprintf(out_, "%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
        // Messages carry registry-supplied text (error bodies, tag names): no control character may reach a
        // terminal or start a forged line, and no secret a registry echoed may reach the log.
        std::fprintf(out_, "%s %s %s\n", stamp, level, safe_text(message).c_str());
    }
    std::fflush(out_);
}

} // namespace syncer
