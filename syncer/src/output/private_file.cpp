#include "output/private_file.hpp"

#include "session.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace syncer {

file_ptr open_private(const std::string& path, bool append, const char* what) {
    const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
    const int fd = ::open(path.c_str(), flags, 0600);
    if (fd < 0)
        throw usage_error(
            fmt::format("cannot open {} for writing ({}): {}", path, what, std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() && (st.st_mode & 077) != 0)
        ::fchmod(fd, 0600);
    file_ptr out(::fdopen(fd, append ? "a" : "w"), &std::fclose);
    if (!out) {
        const int saved = errno;
        ::close(fd);
        throw usage_error(
            fmt::format("cannot open {} for writing ({}): {}", path, what, std::strerror(saved)));
    }
    return out;
}

void write_private(const std::string& path, const std::string& content, const char* what) {
    auto out = open_private(path, false, what);
    const bool written = std::fwrite(content.data(), 1, content.size(), out.get()) == content.size();
    if (!written || std::fclose(out.release()) != 0)
        throw std::runtime_error(fmt::format("cannot write {} to {}: {}", what, path, std::strerror(errno)));
}

} // namespace syncer
