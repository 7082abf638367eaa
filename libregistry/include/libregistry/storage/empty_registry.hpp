#pragma once
// A layout or archive that does not exist yet, as a dry run sees it: it holds nothing and is never written,
// so a plan against it copies everything and the path stays untouched (docs/airgap.md, "--dry-run").
#include "libregistry/storage/storage_registry.hpp"

#include <string>

namespace libregistry {

class empty_registry final : public storage_registry {
public:
    /// `name`: the registry name the bundle has in rules (`oci:DIR`), used in names and messages.
    explicit empty_registry(std::string name);

    std::string name() const override;
    boost::asio::awaitable<result<std::optional<descriptor>>> head_manifest(std::string repository,
                                                                            std::string ref) override;
    boost::asio::awaitable<result<manifest>> get_manifest(std::string repository, std::string ref) override;
    boost::asio::awaitable<result<pushed_manifest>> put_manifest(std::string repository, std::string ref,
                                                                 manifest m) override;
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
    /// Nothing was written: success.
    result<void> finish() override;
    /// None.
    std::vector<std::string> repositories() const override;

private:
    error read_only() const;

    std::string name_;
};

} // namespace libregistry
