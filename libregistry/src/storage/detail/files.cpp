#include "storage/detail/files.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace libregistry::detail {

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = other.release();
    }
    return *this;
}

unique_fd::~unique_fd() {
    if (fd_ >= 0) ::close(fd_);
}

error invalid_archive(std::string_view where, std::string_view what) {
    return make_error(errc::invalid_archive, fmt::format("{}: {}", where, what));
}

error io_failure(std::string_view what, const std::filesystem::path& path, int err) {
    return make_error(errc::io_error,
                      fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(err)));
}

result<unique_fd> open_regular(const std::filesystem::path& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        const int err = errno;
        if (err == ENOENT)
            return make_error(errc::not_found, fmt::format("{} does not exist", path.string()));
        if (err == ELOOP)
            return make_error(errc::invalid_archive,
                              fmt::format("{} is a symbolic link; an image layout holds regular files only",
                                          path.string()));
        return io_failure("open", path, err);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return io_failure("stat", path, errno);
    if (!S_ISREG(st.st_mode))
        return make_error(
            errc::invalid_archive,
            fmt::format("{} is not a regular file; an image layout holds regular files only", path.string()));
    return fd;
}

result<std::int64_t> file_size(int fd, const std::filesystem::path& path) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return io_failure("stat", path, errno);
    return static_cast<std::int64_t>(st.st_size);
}

result<std::string> read_small_file(const std::filesystem::path& path, std::size_t max_size) {
    auto fd = open_regular(path);
    if (!fd) return fd.error();
    auto size = file_size(fd->get(), path);
    if (!size) return size.error();
    if (static_cast<std::uint64_t>(*size) > max_size)
        return make_error(errc::too_large, fmt::format("{} is {} bytes, more than the {} accepted",
                                                       path.string(), *size, max_size));
    std::string out(static_cast<std::size_t>(*size), '\0');
    auto n = read_some(fd->get(), std::as_writable_bytes(std::span(out)), path);
    if (!n) return n.error();
    out.resize(*n);
    return out;
}

result<std::size_t> read_some(int fd, std::span<std::byte> buffer, const std::filesystem::path& path) {
    std::size_t done = 0;
    while (done < buffer.size()) {
        const auto n = ::read(fd, buffer.data() + done, buffer.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_failure("read", path, errno);
        }
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

result<void> write_all(int fd, std::span<const std::byte> bytes, const std::filesystem::path& path) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_failure("write", path, errno);
        }
        done += static_cast<std::size_t>(n);
    }
    return {};
}

result<void> write_all(int fd, std::string_view bytes, const std::filesystem::path& path) {
    return write_all(fd, std::as_bytes(std::span(bytes.data(), bytes.size())), path);
}

result<void> sync_file(int fd, const std::filesystem::path& path) {
    if (::fsync(fd) != 0) return io_failure("sync", path, errno);
    return {};
}

result<void> sync_directory(const std::filesystem::path& dir) {
    unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return io_failure("open directory", dir, errno);
    return sync_file(fd.get(), dir);
}

result<unique_fd> create_temp_file(const std::filesystem::path& dir, std::string_view prefix,
                                   std::filesystem::path& path) {
    std::string pattern = (dir / (std::string(prefix) + "XXXXXX")).string();
    unique_fd fd(::mkostemp(pattern.data(), O_CLOEXEC));
    if (!fd) return io_failure("create a file in", dir, errno);
    path = pattern;
    return fd;
}

result<std::filesystem::path> create_temp_directory(const std::filesystem::path& dir,
                                                    std::string_view prefix) {
    std::string pattern = (dir / (std::string(prefix) + "XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) return io_failure("create a directory in", dir, errno);
    return std::filesystem::path(pattern);
}

result<void> rename_durably(const std::filesystem::path& from, const std::filesystem::path& to) {
    if (::rename(from.c_str(), to.c_str()) != 0)
        return io_failure(fmt::format("rename {} to", from.string()), to, errno);
    return sync_directory(to.parent_path().empty() ? std::filesystem::path(".") : to.parent_path());
}

result<void> replace_file(const std::filesystem::path& path, std::string_view bytes) {
    const auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    std::filesystem::path temp;
    auto fd = create_temp_file(dir, fmt::format(".{}.tmp-", path.filename().string()), temp);
    if (!fd) return fd.error();
    auto done = write_all(fd->get(), bytes, temp);
    if (done) done = sync_file(fd->get(), temp);
    if (done && ::fchmod(fd->get(), 0644) != 0) done = io_failure("chmod", temp, errno);
    ::close(fd->release());
    if (done) done = rename_durably(temp, path);
    if (!done) ::unlink(temp.c_str());
    return done;
}

} // namespace libregistry::detail
