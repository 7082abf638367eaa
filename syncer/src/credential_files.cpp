#include "credential_files.hpp"
#include "output/logger.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <set>
#include <sys/stat.h>

namespace syncer {

namespace fs = std::filesystem;

namespace {

// "group", "others" or "group and others", for the bits of `mode` in `group_bits` / `other_bits`.
std::string who(unsigned mode, unsigned group_bits, unsigned other_bits) {
    const bool group = (mode & group_bits) != 0;
    const bool others = (mode & other_bits) != 0;
    return group && others ? "group and others" : group ? "group" : "others";
}

} // namespace

std::optional<std::string> exposure_warning(std::string_view path, unsigned mode, std::string_view kind) {
    mode &= 0777;
    if ((mode & 077) == 0) return std::nullopt;
    std::string access;
    if (mode & 044) access = "readable by " + who(mode, 040, 004);
    if (mode & 022) access += (access.empty() ? "" : ", ") + ("writable by " + who(mode, 020, 002));
    if (access.empty()) access = "accessible to " + who(mode, 010, 001);
    return fmt::format(
        "syncer: warning: {} {} is {} (mode {:04o}); make it private to its owner with: chmod 600 {}", kind,
        path, access, mode, path);
}

void warn_if_exposed(const std::string& path, std::string_view kind) {
    static std::set<std::string> warned;
    struct stat st {};
    if (path.empty() || ::stat(path.c_str(), &st) != 0) return;
    std::error_code ec;
    auto canonical = fs::weakly_canonical(path, ec);
    if (!warned.insert(ec ? path : canonical.string()).second) return;
    if (auto text = exposure_warning(path, static_cast<unsigned>(st.st_mode), kind)) {
        constexpr std::string_view prefix = "syncer: warning: ";
        const auto message = text->starts_with(prefix) ? text->substr(prefix.size()) : *text;
        stderr_line("warning", "file_mode", *text, message,
                    {{"path", path}, {"mode", fmt::format("{:04o}", st.st_mode & 0777)}});
    }
}

void warn_if_keys_exposed(const std::string& cert_dir) {
    std::error_code ec;
    if (cert_dir.empty() || !fs::is_directory(cert_dir, ec)) return;
    for (const auto& entry : fs::directory_iterator(cert_dir, ec))
        if (entry.path().extension() == ".key") warn_if_exposed(entry.path().string(), "TLS client key");
}

} // namespace syncer
