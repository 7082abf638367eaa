#include "sync/detail/platform_filter.hpp"

#include "sync/detail/small_blob.hpp"

#include <fmt/format.h>

namespace libregistry::detail {

namespace asio = boost::asio;

namespace {

// Real images nest an index at most once or twice; the bound keeps a hostile source from leading the filter
// down an endless chain of indexes.
constexpr int max_nesting = 8;

} // namespace

asio::awaitable<result<platform_selection>> platform_filter::select(manifest index) {
    co_return co_await select_at(std::move(index), 0);
}

asio::awaitable<result<platform_selection>> platform_filter::select_at(manifest index, int depth) {
    std::map<digest, platform_selection> nested;
    for (const auto& entry : nested_indexes(index, platforms_)) {
        if (depth + 1 >= max_nesting)
            co_return make_error(
                errc::invalid_manifest,
                fmt::format("index {} nests indexes more than {} deep; refusing to follow them",
                            index.digest.str(), max_nesting));
        auto child = co_await source_.get_manifest(repository_, entry.digest.str());
        if (!child) co_return child.error();
        // An entry typed as an index whose body is not one is judged by its own platform, as any image is.
        if (child->kind != manifest_kind::index) continue;
        auto selection = co_await select_at(std::move(*child), depth + 1);
        if (!selection) co_return selection.error();
        if (selection->index) manifests_.insert_or_assign(selection->index->digest, *selection->index);
        nested.insert_or_assign(entry.digest, std::move(*selection));
    }
    co_return select_platforms(index, platforms_, nested);
}

asio::awaitable<result<std::string>> platform_filter::read_config(descriptor config) {
    if (config.size < 0 || static_cast<std::size_t>(config.size) > max_manifest_size)
        co_return make_error(
            errc::too_large,
            fmt::format("config {} is {} bytes; the platform filter reads configs of at most "
                        "{} bytes",
                        config.digest.str(), config.size, max_manifest_size));
    auto bytes = co_await read_small_blob(source_, repository_, config);
    if (!bytes && bytes.error().code == errc::digest_mismatch)
        co_return make_error(errc::digest_mismatch,
                             fmt::format("config {} from {}/{} {}", config.digest.str(), source_.name(),
                                         repository_, bytes.error().message));
    co_return bytes;
}

asio::awaitable<result<void>> platform_filter::check_image(manifest m, std::string what) {
    std::optional<platform> found;
    if (m.kind == manifest_kind::schema1) {
        found = schema1_platform(m);
    } else if (m.kind == manifest_kind::image && m.config && is_image_config(m.config->media_type)) {
        auto config = co_await read_config(*m.config);
        if (!config) co_return config.error();
        found = platform_of_config(*config);
    }
    if (found && platform_matches_any(platforms_, *found)) co_return result<void>{};
    if (!found)
        co_return make_error(
            errc::platform_mismatch,
            fmt::format("{} is a single image that names no platform, so the platform filter "
                        "({}) does not match it; nothing to copy",
                        what, platform_list(platforms_)));
    co_return make_error(errc::platform_mismatch,
                         fmt::format("{} is a single-platform image for {}, which the platform filter ({}) "
                                     "does not match; nothing to copy",
                                     what, found->str(), platform_list(platforms_)));
}

} // namespace libregistry::detail
