#include "libregistry/storage/empty_registry.hpp"

#include "libregistry/core/printable.hpp"

#include <fmt/format.h>

namespace libregistry {

namespace asio = boost::asio;

empty_registry::empty_registry(std::string name) : name_(std::move(name)) {}

std::string empty_registry::name() const {
    return name_;
}

error empty_registry::read_only() const {
    return make_error(errc::unsupported,
                      fmt::format("{} does not exist and is not written in a dry run", name_));
}

asio::awaitable<result<std::optional<descriptor>>> empty_registry::head_manifest(std::string, std::string) {
    co_return std::optional<descriptor>{};
}

asio::awaitable<result<manifest>> empty_registry::get_manifest(std::string repository, std::string ref) {
    co_return make_error(errc::manifest_unknown,
                         fmt::format("{} does not exist, so it holds no {}:{}", name_,
                                     printable(repository, 200), printable(ref, 200)),
                         404);
}

asio::awaitable<result<pushed_manifest>> empty_registry::put_manifest(std::string, std::string, manifest) {
    co_return read_only();
}

asio::awaitable<result<bool>> empty_registry::has_blob(std::string, digest) {
    co_return false;
}

asio::awaitable<result<std::unique_ptr<blob_reader>>> empty_registry::get_blob(std::string, descriptor desc) {
    co_return make_error(errc::blob_unknown,
                         fmt::format("{} does not exist, so it holds no blob {}", name_, desc.digest.str()),
                         404);
}

asio::awaitable<result<std::optional<upload_session>>>
empty_registry::start_upload(std::string, std::optional<digest>, std::optional<std::string>) {
    co_return read_only();
}

asio::awaitable<result<void>> empty_registry::finish_upload(upload_session, descriptor, blob_reader&) {
    co_return read_only();
}

asio::awaitable<void> empty_registry::cancel_upload(upload_session) {
    co_return;
}

// As an image layout without the repository answers (oci_layout_registry::list_tags).
asio::awaitable<result<std::vector<std::string>>> empty_registry::list_tags(std::string repository) {
    co_return make_error(
        errc::name_unknown,
        fmt::format("{} does not exist, so it holds no image of {}", name_, printable(repository, 200)), 404);
}

asio::awaitable<result<referrer_list>> empty_registry::list_referrers(std::string, digest,
                                                                      std::optional<std::string>, bool) {
    co_return referrer_list{};
}

asio::awaitable<result<bool>> empty_registry::delete_tag(std::string, std::string) {
    co_return read_only();
}

asio::awaitable<result<bool>> empty_registry::delete_manifest(std::string, digest) {
    co_return read_only();
}

result<void> empty_registry::finish() {
    return {};
}

std::vector<std::string> empty_registry::repositories() const {
    return {};
}

} // namespace libregistry
