#pragma once
// An OCI image layout directory (image-spec image-layout.md: `oci-layout`, `index.json`,
// `blobs/<alg>/<encoded>`) as a registry. Manifests and blobs are all blobs of the layout, shared by every
// repository in it; tags are the `index.json` entries. docs/airgap.md describes the naming and the safety
// guarantees.
#include "libregistry/storage/layout_format.hpp"
#include "libregistry/storage/storage_registry.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace libregistry {

/// How index.json entries name images.
enum class layout_naming {
    /// Many repositories in one layout: ref.name is `<repository>:<tag>` (`library/alpine:3.19`, a valid
    /// ref.name) and the repository_annotation holds `<repository>`. Entries without that annotation (written
    /// by other tools) are left alone. skopeo reads an image back as `oci:DIR:<repository>:<tag>`.
    bundle,
    /// One image set, as skopeo's `oci:DIR:TAG` writes it: ref.name is the tag, and the repository
    /// argument of every call is ignored.
    single,
};

struct oci_layout_options {
    layout_naming naming = layout_naming::bundle;
    /// Open for writing: creates the directory (and `oci-layout`) when missing and takes the layout's
    /// exclusive lock (flock on the directory), which a second writer is refused (errc::busy). Without it,
    /// every write is refused (errc::unsupported) and no lock is taken: readers see the last index.json
    /// written, which is replaced atomically.
    bool writable = false;
};

class oci_layout_registry final : public storage_registry {
public:
    /// Opens the layout at `dir`, reading `oci-layout` and `index.json` (a missing index.json is an empty
    /// layout only when writable). Refuses a directory that holds files but is not a layout, a malformed
    /// `oci-layout` or `index.json` (errc::invalid_archive, naming the file and the entry), a layout another
    /// writer holds (errc::busy).
    static result<std::unique_ptr<oci_layout_registry>> open(std::filesystem::path dir,
                                                             oci_layout_options options);
    ~oci_layout_registry() override;

    const std::filesystem::path& path() const noexcept;
    /// The index.json entries as they stand (with writes not yet finished).
    const std::vector<descriptor>& entries() const noexcept;

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
    /// The tag schema only (a layout has no referrers API): the `sha256-<hex>` tag's index, or source none.
    boost::asio::awaitable<result<referrer_list>> list_referrers(std::string repository, digest subject,
                                                                 std::optional<std::string> artifact_type,
                                                                 bool tag_schema = true) override;
    /// Removes the index.json entry; the blobs stay.
    boost::asio::awaitable<result<bool>> delete_tag(std::string repository, std::string tag) override;
    /// Removes every entry of `repository` pointing at `d`; the blobs stay.
    boost::asio::awaitable<result<bool>> delete_manifest(std::string repository, digest d) override;

    result<void> finish() override;

    // The synchronous operations the coroutines above wrap; the archive back ends use them directly.
    result<std::optional<descriptor>> lookup(const std::string& repository, const std::string& ref) const;
    result<manifest> read_manifest(const std::string& repository, const std::string& ref) const;
    result<digest> write_manifest(const std::string& repository, const std::string& ref, const manifest& m);
    /// Stores `bytes` as a blob (checked against their digest when `expected` is set).
    result<digest> write_blob(std::string_view bytes, const std::optional<digest>& expected = std::nullopt);
    bool contains_blob(const digest& d) const;
    /// Writing: blob `d` was handed on (appended to an archive stream) and its file under blobs/ removed;
    /// it still counts as stored for has_blob, mounts, contains_blob and blob_set (so index.json lists it),
    /// but open_blob cannot read it any more.
    void mark_streamed(const digest& d);
    /// Writing into a work directory that a crash discards anyway (an archive being written): uploaded blobs
    /// and manifests are renamed into blobs/ without fsync of the file or the directory. index.json stays
    /// durable.
    void skip_blob_sync() noexcept;
    /// Whether mark_streamed(d) was called.
    bool streamed(const digest& d) const;
    /// Opens a blob for reading; the reader checks the bytes against `desc` (digest and size) as they stream.
    result<std::unique_ptr<blob_reader>> open_blob(const descriptor& desc) const;
    /// Checks that every index.json entry is complete: its manifest, and recursively every child manifest and
    /// blob it names, is in the layout (the blobs' bytes are checked when they are read).
    /// errc::invalid_archive naming the entry and what is missing.
    result<void> verify_complete() const;
    /// Writing a delta (`export --since`): blobs in `base.omitted` (every blob of the base bundle) are
    /// reported present by has_blob and accepted in manifests without being stored; finish() writes
    /// syncer-delta.json naming `base` and the ones that were left out.
    void omit_base_blobs(delta_record base);
    /// Reading: the layout's syncer-delta.json, nullopt when it is not a delta. Its omitted blobs count as
    /// present for completeness checks, has_blob reports them absent, and reading one fails
    /// (errc::blob_unknown naming the base bundle).
    const std::optional<delta_record>& delta() const noexcept;
    /// Every blob the layout's images may use: those stored under blobs/, and a delta's omitted ones.
    result<std::set<digest>> blob_set() const;
    /// Every repository of a bundle, in order of first appearance (none for entries that carry a tag alone,
    /// as skopeo's `oci:DIR:TAG` writes them).
    std::vector<std::string> repositories() const override;

private:
    struct impl;
    explicit oci_layout_registry(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

} // namespace libregistry
