#include "sync/detail/image_created.hpp"

#include "libregistry/core/media_type.hpp"
#include "libregistry/core/tag_version.hpp"
#include "sync/detail/small_blob.hpp"

#include <fmt/format.h>

namespace libregistry::detail {

namespace asio = boost::asio;

namespace {

using created_time = std::optional<std::chrono::sys_time<std::chrono::microseconds>>;

} // namespace

asio::awaitable<result<created_time>> image_created(registry& source, std::string repository,
                                                    std::string tag) {
    auto m = co_await source.get_manifest(repository, tag);
    if (!m) co_return m.error();
    if (m->kind == manifest_kind::index) {
        // Every image of an index is built from the same sources at about the same time: the first one says
        // when. Attestations (platform unknown/unknown) are not images.
        std::optional<descriptor> first;
        for (const auto& entry : m->manifests)
            if (kind_of(entry.media_type) == manifest_kind::image &&
                !(entry.platform && entry.platform->os == "unknown")) {
                first = entry;
                break;
            }
        if (!first) co_return created_time{};
        auto image = co_await source.get_manifest(repository, first->digest.str());
        if (!image) co_return image.error();
        m = std::move(image);
    }
    if (m->kind != manifest_kind::image || !m->config || !is_image_config(m->config->media_type))
        co_return created_time{};
    const auto config = *m->config;
    if (config.size < 0 || static_cast<std::size_t>(config.size) > max_manifest_size)
        co_return make_error(errc::too_large,
                             fmt::format("config {} of {}/{}:{} is {} bytes; configs of at most {} bytes "
                                         "are read for their creation time",
                                         config.digest.str(), source.name(), repository, tag, config.size,
                                         max_manifest_size));
    auto bytes = co_await read_small_blob(source, repository, config);
    if (!bytes && bytes.error().code == errc::digest_mismatch)
        co_return make_error(errc::digest_mismatch,
                             fmt::format("config {} of {}/{}:{} {}", config.digest.str(), source.name(),
                                         repository, tag, bytes.error().message));
    if (!bytes) co_return bytes.error();
    co_return created_of_config(*bytes);
}

} // namespace libregistry::detail
