#pragma once
// A `docker save` archive (skopeo's `docker-archive:`) as a registry: manifest.json, `repositories`, the
// config and layer files. Single-platform images only (the format has no index); several per archive, each
// found by NAME:TAG, or as the only image. syncer stores every file under `blobs/<alg>/<hex>` as it was
// pulled (layers compressed: docker load detects the compression) and adds the manifest's exact bytes, named
// from manifest.json by docker_archive_manifest_key, so digests survive the round trip. docs/airgap.md has
// the details, and what an archive written by docker or skopeo reads as.
#include "libregistry/storage/oci_layout_registry.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace libregistry {

namespace detail {
class archive_stream;
}

struct docker_archive_options {
    bool writable = false;
    /// Reading: where the spool directory goes (the system temp directory when empty).
    std::filesystem::path spool_dir;
};

/// One image of an archive being read.
struct docker_archive_entry {
    std::vector<std::string> repo_tags; ///< `name:tag` as manifest.json has them
    descriptor manifest;                ///< syncer's stored manifest, or the one built from the files
};

class docker_archive_registry final : public storage_registry {
public:
    /// Reading: extracts `file` (compression by its magic bytes, bounded like oci_archive_registry) into a
    /// spool directory, parses manifest.json strictly and resolves every image: errc::invalid_archive naming
    /// the archive and the entry for an unsafe entry, a malformed manifest.json, a file it names that the
    /// archive lacks, a stored manifest that does not describe the entry's files.
    /// Writing: the name must end in .tar, .tar.gz, .tgz, .tar.zst or .tzst; blobs stream into a temp
    /// archive as they arrive (as oci_archive_registry's do), which replaces `file` whole at finish().
    static result<std::unique_ptr<docker_archive_registry>> open(std::filesystem::path file,
                                                                 docker_archive_options options);
    ~docker_archive_registry() override;

    /// Reading: the images of manifest.json, in order.
    const std::vector<docker_archive_entry>& images() const noexcept;

    std::string name() const override;
    /// A tag finds the image whose RepoTags has `<repository>:<tag>` (both sides normalised as docker does:
    /// `alpine`, `library/alpine` and `docker.io/library/alpine` are one name; a registry host in a RepoTag
    /// is not compared). An empty repository or ref (`docker-archive:FILE` with no NAME:TAG, which a
    /// reference carries as repository "" and ref "latest") finds the only image of the archive, and is
    /// refused naming every image when there are several. A digest finds any manifest.
    boost::asio::awaitable<result<std::optional<descriptor>>> head_manifest(std::string repository,
                                                                            std::string ref) override;
    boost::asio::awaitable<result<manifest>> get_manifest(std::string repository, std::string ref) override;
    /// Refuses (errc::unsupported) an index, a schema 1 manifest, an artifact (a config that is not an image
    /// config) and foreign layers: what docker load could not read.
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
    /// None: the format has no place for referrers.
    boost::asio::awaitable<result<referrer_list>> list_referrers(std::string repository, digest subject,
                                                                 std::optional<std::string> artifact_type,
                                                                 bool tag_schema = true) override;
    boost::asio::awaitable<result<bool>> delete_tag(std::string repository, std::string tag) override;
    boost::asio::awaitable<result<bool>> delete_manifest(std::string repository, digest d) override;

    /// Writing: the manifests, manifest.json and `repositories` for every tagged image appended to the temp
    /// archive the blobs were streamed into as they arrived, which is then closed, synced and renamed over
    /// the target.
    result<void> finish() override;
    /// The repositories of the RepoTags (`alpine:3.19` is `library/alpine`, as docker reads it), in order.
    std::vector<std::string> repositories() const override;

private:
    docker_archive_registry(std::filesystem::path file, std::filesystem::path work, bool writable,
                            std::unique_ptr<oci_layout_registry> layout,
                            std::vector<docker_archive_entry> images,
                            std::unique_ptr<detail::archive_stream> out = nullptr);
    result<std::optional<descriptor>> find(const std::string& repository, const std::string& ref) const;

    std::filesystem::path file_;
    std::filesystem::path work_; ///< the spool or the temp layout, removed with this object
    bool writable_;
    std::unique_ptr<oci_layout_registry> layout_;
    std::vector<docker_archive_entry> images_;
    std::unique_ptr<detail::archive_stream> out_; ///< writing: the temp archive being streamed
};

} // namespace libregistry
