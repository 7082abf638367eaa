#pragma once
// A blob_reader over a file that hashes what it hands out and, at the end, fails with errc::digest_mismatch
// when the bytes are not the descriptor's (digest or size): a corrupt file in a layout or archive never
// passes for the blob it claims to be.
#include "libregistry/client/registry.hpp"
#include "storage/detail/files.hpp"

#include <filesystem>
#include <memory>

namespace libregistry::detail {

/// Opens `path` (a regular file, not a symlink) for reading as `desc`.
result<std::unique_ptr<blob_reader>> open_file_blob(const std::filesystem::path& path,
                                                    const descriptor& desc);

} // namespace libregistry::detail
