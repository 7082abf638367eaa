#include "text.hpp"

#include <fmt/format.h>
#include <libregistry/core/printable.hpp>
#include <libregistry/core/redact.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace syncer {

std::string safe_text(std::string_view text) {
    return libregistry::printable(libregistry::scrub_secrets(text));
}

libregistry::result<std::string> read_small_file(const std::string& path, std::size_t limit) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return libregistry::make_error(libregistry::errc::io_error,
                                       fmt::format("cannot read: {}", std::strerror(errno)));
    std::string text;
    std::array<char, 64 * 1024> chunk{};
    while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
        text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
        if (text.size() > limit)
            return libregistry::make_error(libregistry::errc::too_large,
                                           fmt::format("larger than {} MiB", limit >> 20));
    }
    if (in.bad()) return libregistry::make_error(libregistry::errc::io_error, "read error");
    return text;
}

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
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
