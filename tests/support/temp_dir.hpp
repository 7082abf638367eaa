#pragma once
// A temporary directory for unit tests, removed with everything in it at scope exit.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace libregistry::testing {

class temp_dir {
public:
    explicit temp_dir(std::string_view prefix = "syncer_test") {
        std::string pattern =
            (std::filesystem::temp_directory_path() / (std::string(prefix) + ".XXXXXX")).string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }

    const std::filesystem::path& path() const { return path_; }

    /// Writes `text` to `name` inside the directory and returns the file's path.
    std::string write(const std::string& name, std::string_view text) const {
        const auto path = path_ / name;
        std::ofstream out(path, std::ios::binary);
        out << text;
        return path.string();
    }

private:
    std::filesystem::path path_;
};

/// How many entries (files, directories, anything) `dir` holds, not counting what is inside subdirectories.
inline std::size_t entries_in(const std::filesystem::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir))
        ++n;
    return n;
}

} // namespace libregistry::testing
