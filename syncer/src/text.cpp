#include "text.hpp"

#include <fmt/format.h>
#include <libregistry/core/printable.hpp>
#include <libregistry/core/redact.hpp>

#include <algorithm>

namespace syncer {

std::string safe_text(std::string_view text) {
    return libregistry::printable(libregistry::scrub_secrets(text));
}

std::string_view trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    const auto last = s.find_last_not_of(" \t\r\n");
    return s.substr(first, last - first + 1);
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out.append(separator);
        out.append(item);
    }
    return out;
}

std::vector<std::string> split_list(const std::vector<std::string>& values) {
    std::vector<std::string> out;
    for (std::string_view value : values) {
        while (true) {
            const auto comma = value.find(',');
            const auto item = trim(value.substr(0, comma));
            if (!item.empty() && std::find(out.begin(), out.end(), item) == out.end()) out.emplace_back(item);
            if (comma == std::string_view::npos) break;
            value.remove_prefix(comma + 1);
        }
    }
    return out;
}

std::string file_line(std::string_view file, int zero_based_line) {
    if (zero_based_line < 0) return std::string(file);
    return fmt::format("{}:{}", file, zero_based_line + 1);
}

} // namespace syncer
