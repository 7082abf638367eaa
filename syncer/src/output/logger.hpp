#pragma once
// Log output: one line per message, as text or as a JSON object, to a file (--log) or stderr.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>

namespace syncer {

/// Every string in `j` (values at any depth) with the known secrets scrubbed (libregistry::scrub_secrets).
void scrub_secrets_in(nlohmann::ordered_json& j);

class logger {
public:
    logger(bool json, std::FILE* out) : json_(json), out_(out) {}
    void info(const std::string& message, const nlohmann::ordered_json& fields = {});
    void warning(const std::string& message, const nlohmann::ordered_json& fields = {});
    void error(const std::string& message, const nlohmann::ordered_json& fields = {});
    bool to_terminal() const;

private:
    void write(const char* level, const std::string& message, const nlohmann::ordered_json& fields);
    bool json_;
    std::FILE* out_;
};

} // namespace syncer
