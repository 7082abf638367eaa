// `$VAR` expansion in config values.
#include "config/document.hpp"

#include <algorithm>
#include <cstdlib>

namespace syncer {

using namespace libregistry;
using detail::config_error;
using detail::in_quotes;

namespace {

bool is_name_start(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_name_char(char c) noexcept {
    return is_name_start(c) || (c >= '0' && c <= '9');
}
bool is_variable_name(std::string_view name) noexcept {
    return !name.empty() && is_name_start(name.front()) &&
           std::all_of(name.begin(), name.end(), is_name_char);
}

} // namespace

env_lookup process_environment() {
    return [](std::string_view name) -> std::optional<std::string> {
        const char* value = std::getenv(std::string(name).c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

result<std::string> expand_env(std::string_view text, const env_lookup& env, std::string_view where) {
    // Messages never quote `text`: it may be a password.
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const auto dollar = text.find('$', i);
        out.append(text.substr(i, dollar - i));
        if (dollar == std::string_view::npos) break;
        if (dollar + 1 == text.size())
            return config_error(where, "\"$\" at the end; write \"$$\" for a literal \"$\"");
        const char next = text[dollar + 1];
        std::string_view variable;
        if (next == '$') {
            out.push_back('$');
            i = dollar + 2;
            continue;
        }
        if (next == '{') {
            const auto close = text.find('}', dollar + 2);
            if (close == std::string_view::npos)
                return config_error(where,
                                    "\"${\" without a closing \"}\"; write \"$$\" for a literal \"$\"");
            variable = text.substr(dollar + 2, close - dollar - 2);
            if (!is_variable_name(variable))
                return config_error(where,
                                    "\"${...}\" must hold a variable name (letters, digits and '_', not "
                                    "starting with a digit)");
            i = close + 1;
        } else if (is_name_start(next)) {
            auto end = dollar + 1;
            while (end < text.size() && is_name_char(text[end]))
                ++end;
            variable = text.substr(dollar + 1, end - dollar - 1);
            i = end;
        } else {
            return config_error(where,
                                "\"$\" must be followed by a variable name, \"{NAME}\" or \"$\"; write "
                                "\"$$\" for a literal \"$\"");
        }
        auto value = env ? env(variable) : std::nullopt;
        if (!value)
            return config_error(where,
                                fmt::format("environment variable {} is not set", in_quotes(variable)));
        out += *value;
    }
    return out;
}

} // namespace syncer
