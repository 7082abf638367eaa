#pragma once
// Files syncer writes that may name registries, repositories and failures (--report, --log, the image lists):
// created readable by their owner only, like the credentials they sit next to.
#include <cstdio>
#include <memory>
#include <string>

namespace syncer {

using file_ptr = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

/// Opens `path` for writing (`append`: at its end, else truncated), creating it with mode 0600; a file of the
/// caller's that already exists is made 0600 too. Throws usage_error naming the path and the errno.
file_ptr open_private(const std::string& path, bool append, const char* what);

/// Writes `content` to `path` through open_private; throws std::runtime_error when the write fails.
void write_private(const std::string& path, const std::string& content, const char* what);

} // namespace syncer
