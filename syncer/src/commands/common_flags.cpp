// The shared flags: one spelling per concept, the older ones kept as aliases.
#include "commands/common_flags.hpp"
#include "session.hpp"
#include "text.hpp"

#include <fmt/format.h>

namespace syncer {

CLI::Option* add_retries_flag(CLI::App& cmd, int& value, const std::string& help, bool short_r) {
    return cmd.add_option(short_r ? "--retries,-r,--retry-times" : "--retries,--retry-times", value, help)
        ->check(CLI::Range(0, 100));
}

CLI::Option* add_authfile_flag(CLI::App& cmd, std::string& path, const std::string& help) {
    return cmd.add_option("--authfile", path, help);
}

CLI::Option* add_platform_flag(CLI::App& cmd, std::vector<std::string>& values, const std::string& help) {
    return cmd.add_option("--platform", values, help)->type_size(0, 1)->allow_extra_args(false);
}

std::vector<libregistry::platform> parse_platform_flags(const std::vector<std::string>& values) {
    std::vector<libregistry::platform> out;
    for (const auto& text : split_list(values)) {
        auto p = libregistry::parse_platform(text);
        if (!p) throw usage_error(fmt::format("--platform {}: {}", text, p.error().message));
        out.push_back(*p);
    }
    return out;
}

} // namespace syncer
