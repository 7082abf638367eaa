#pragma once
// An archive being written: a temp archive next to its target, opened once through the compressor, that the
// blobs of a work layout are appended to as their uploads are verified (on a worker thread, so compression
// never holds up the downloads of the I/O thread), finished by appending the small files last, syncing and
// renaming it over the target. Used by the writers of oci_archive_registry and docker_archive_registry;
// docs/airgap.md ("Writing streams") has the disk space, the memory bound and the crash behaviour.
#include "libregistry/client/registry.hpp"
#include "libregistry/core/digest.hpp"
#include "libregistry/core/error.hpp"

#include <boost/asio/awaitable.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace libregistry {
class oci_layout_registry;
}

namespace libregistry::detail {

class archive_stream {
public:
    /// Under an exclusive flock of `target`'s directory (held for milliseconds, so that no writer sees
    /// another's files before they are locked): removes what dead writers of `target` left there (each
    /// `.NAME.tmp-*` file and `.NAME.syncer-*` directory whose flock can be taken; a live writer holds its
    /// own), then creates this writer's work directory `.NAME.syncer-XXXXXX` and temp archive
    /// `.NAME.tmp-XXXXXX`, each locked for as long as this object lives. The compression is `target`'s
    /// (compression_for_path; errc::invalid_argument for another name).
    static result<std::unique_ptr<archive_stream>> create(const std::filesystem::path& target);
    /// Not finished: the worker stops, the temp archive and the work directory go; the target stays as it
    /// was.
    ~archive_stream();
    archive_stream(const archive_stream&) = delete;
    archive_stream& operator=(const archive_stream&) = delete;

    /// The work directory, for the writer's layout and small files.
    const std::filesystem::path& work() const noexcept;

    /// Blob `d`, committed to `layout` (whose directory is under work()), marked streamed there, appended to
    /// the archive as `blobs/<alg>/<hex>` on the worker thread, and its file removed. A second append of one
    /// digest only removes the file. A failed append fails every later one and finish(): the tar stream
    /// holds a partial entry.
    boost::asio::awaitable<result<void>> append_blob(oci_layout_registry& layout, digest d);

    /// Waits for the worker, appends `entries` (archive name, file), closes the stream, syncs the archive and
    /// renames it over the target: the target is the previous archive or the complete new one.
    /// append_blob fails from then on, whether this succeeded or not (the worker is gone).
    result<void> finish(const std::vector<std::pair<std::string, std::filesystem::path>>& entries);

private:
    struct impl;
    explicit archive_stream(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

/// get_blob of an archive registry (oci-archive:, docker-archive:) from its layout: a blob already streamed
/// into `archive`, which is being written, is refused (its file is gone, and the archive cannot be read back
/// until the export finishes; the copy engine reads blobs from the source only).
result<std::unique_ptr<blob_reader>> open_archive_blob(const oci_layout_registry& layout,
                                                       const descriptor& desc,
                                                       const std::filesystem::path& archive);

/// finish_upload of an archive registry: the blob is verified and committed to its file in `layout`, then,
/// when the archive is being written (`out` set), appended to the stream on its worker thread and the file
/// removed (archive_stream::append_blob).
boost::asio::awaitable<result<void>> finish_archive_upload(oci_layout_registry& layout, archive_stream* out,
                                                           upload_session session, descriptor desc,
                                                           blob_reader& reader);

} // namespace libregistry::detail
