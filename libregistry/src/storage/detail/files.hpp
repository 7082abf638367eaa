#pragma once
// POSIX file helpers for the storage back ends: descriptors that close themselves, whole writes, fsync, and
// reads that refuse symlinks and anything but regular files. Every failure names the path.
#include "libregistry/core/error.hpp"

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace libregistry::detail {

class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
    unique_fd& operator=(unique_fd&& other) noexcept;
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd();

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    int release() noexcept {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    int fd_ = -1;
};

/// errc::invalid_archive: "<where>: <what>", for a layout or archive whose content is malformed or unsafe.
error invalid_archive(std::string_view where, std::string_view what);

/// errc::io_error: "cannot <what> <path>: <strerror(errno)>".
error io_failure(std::string_view what, const std::filesystem::path& path, int err);

/// Opens a regular file for reading, refusing symlinks (O_NOFOLLOW) and anything that is not a regular file.
/// errc::not_found when it does not exist.
result<unique_fd> open_regular(const std::filesystem::path& path);

/// The size of an open regular file.
result<std::int64_t> file_size(int fd, const std::filesystem::path& path);

/// Reads a whole small regular file, refusing one larger than `max_size` (errc::too_large).
result<std::string> read_small_file(const std::filesystem::path& path, std::size_t max_size);

/// read(2) until `buffer` is full or the end; returns the bytes read.
result<std::size_t> read_some(int fd, std::span<std::byte> buffer, const std::filesystem::path& path);
result<void> write_all(int fd, std::span<const std::byte> bytes, const std::filesystem::path& path);
result<void> write_all(int fd, std::string_view bytes, const std::filesystem::path& path);
result<void> sync_file(int fd, const std::filesystem::path& path);
/// fsync of a directory, so a rename in it survives a crash.
result<void> sync_directory(const std::filesystem::path& dir);

/// A new file `dir/<prefix>XXXXXX` opened for writing (mkstemp); `path` receives its name.
result<unique_fd> create_temp_file(const std::filesystem::path& dir, std::string_view prefix,
                                   std::filesystem::path& path);
/// A new directory `dir/<prefix>XXXXXX` (mkdtemp).
result<std::filesystem::path> create_temp_directory(const std::filesystem::path& dir,
                                                    std::string_view prefix);

/// Writes `bytes` to `path` crash-safely: a temp file in the same directory, fsync, rename over `path`,
/// fsync of the directory. Readers see the old file or the new one, never a partial one.
result<void> replace_file(const std::filesystem::path& path, std::string_view bytes);

/// rename(2), then fsync of the target's directory.
result<void> rename_durably(const std::filesystem::path& from, const std::filesystem::path& to);

} // namespace libregistry::detail
