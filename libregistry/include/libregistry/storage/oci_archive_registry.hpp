#pragma once
// A tar archive of an OCI image layout (skopeo's `oci-archive:`), plain or compressed (.tar, .tar.gz/.tgz,
// .tar.zst), as a registry. Reading extracts the archive once, in order, into a spool directory and serves
// the layout there. Writing streams: a temp archive next to the target is opened once through the
// compressor, each blob is appended to it as soon as its upload is verified (and its temp file deleted), and
// finish() appends the manifests, `oci-layout` and `index.json`, then syncs the archive and renames it into
// place. docs/airgap.md has the details and the disk space used.
#include "libregistry/storage/oci_layout_registry.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace libregistry {

namespace detail {
class archive_stream;
}

struct oci_archive_options {
    layout_naming naming = layout_naming::bundle;
    bool writable = false;
    /// Reading: where the spool directory goes (the system temp directory when empty).
    std::filesystem::path spool_dir;
};

class oci_archive_registry final : public storage_registry {
public:
    /// Reading: extracts `file` (compression by its magic bytes) into a spool directory, refusing unsafe
    /// entries and truncated or corrupt streams (errc::invalid_archive naming the archive and the entry),
    /// more bytes than the archive's size allows, and an index.json that names missing manifests or blobs.
    /// Writing: the name must end in .tar, .tar.gz, .tgz, .tar.zst or .tzst; the archive is written at
    /// finish() and replaces `file` whole.
    static result<std::unique_ptr<oci_archive_registry>> open(std::filesystem::path file,
                                                              oci_archive_options options);
    ~oci_archive_registry() override;

    /// The layout being read or written.
    oci_layout_registry& layout() noexcept;

    std::string name() const override;
    boost::asio::awaitable<result<std::optional<descriptor>>> head_manifest(std::string repository,
                                                                            std::string ref) override;
    boost::asio::awaitable<result<manifest>> get_manifest(std::string repository, std::string ref) override;
    boost::asio::awaitable<result<pushed_manifest>> put_manifest(std::string repository, std::string ref,
                                                                 manifest m) override;
    result<void> can_store(const std::string& repository, const std::string& ref,
                           const manifest& m) const override;
    boost::asio::awaitable<result<bool>> has_blob(std::string repository, digest d) override;
    boost::asio::awaitable<result<std::unique_ptr<blob_reader>>> get_blob(std::string repository,
                                                                          descriptor desc) override;
    boost::asio::awaitable<result<std::optional<upload_session>>>
    start_upload(std::string repository, std::optional<digest> d,
                 std::optional<std::string> mount_from) override;
    boost::asio::awaitable<result<void>> finish_upload(upload_session session, descriptor desc,
                                                       blob_reader& reader) override;
    boost::asio::awaitable<void> cancel_upload(upload_session session) override;
    boost::asio::awaitable<result<std::vector<std::string>>> list_tags(std::string repository) override;
    boost::asio::awaitable<result<referrer_list>> list_referrers(std::string repository, digest subject,
                                                                 std::optional<std::string> artifact_type,
                                                                 bool tag_schema = true) override;
    boost::asio::awaitable<result<bool>> delete_tag(std::string repository, std::string tag) override;
    boost::asio::awaitable<result<bool>> delete_manifest(std::string repository, digest d) override;

    /// Writing: the manifests, `oci-layout`, `index.json` (and a delta's syncer-delta.json) appended to
    /// the temp archive, which is then closed, synced and renamed over the target.
    result<void> finish() override;
    std::vector<std::string> repositories() const override;

private:
    oci_archive_registry(std::filesystem::path file, std::filesystem::path work, bool writable,
                         std::unique_ptr<oci_layout_registry> layout,
                         std::unique_ptr<detail::archive_stream> out);
    std::filesystem::path file_;
    std::filesystem::path work_; ///< the spool, or the work directory of a writer; removed with this object
    bool writable_;
    std::unique_ptr<oci_layout_registry> layout_;
    std::unique_ptr<detail::archive_stream> out_; ///< writing: the temp archive being streamed
};

/// The files of a layout directory as archive entries: `oci-layout`, `index.json`, then `blobs/...` in
/// name order (syncer's own temp directory left out).
result<std::vector<std::pair<std::string, std::filesystem::path>>>
layout_archive_entries(const std::filesystem::path& dir);

} // namespace libregistry
