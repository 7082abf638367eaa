#pragma once
// The platform filter (copy_options::platforms) as the copy engine applies it: it reads what the pure
// decisions in core/manifest.hpp need from the source (nested indexes, an image's config) and nothing else.
#include "libregistry/client/registry.hpp"
#include "libregistry/core/manifest.hpp"
#include "libregistry/core/platform.hpp"

#include <boost/asio/awaitable.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace libregistry::detail {

class platform_filter {
public:
    platform_filter(registry& source, std::string repository, std::vector<platform> platforms)
        : source_(source), repository_(std::move(repository)), platforms_(std::move(platforms)) {}

    /// The filter applied to `index` and, through GETs from the source, to every nested index it looks
    /// into (nested_indexes), however deep, up to a bound. A nested index that is unchanged or rewritten is
    /// remembered in manifests().
    boost::asio::awaitable<result<platform_selection>> select(manifest index);

    /// Whether the image `m` is for one of the platforms: schema 1 says so in its body, other images in their
    /// config, which is read from the source (one blob GET) when its media type is an image configuration's.
    /// The error for a mismatch is errc::platform_mismatch and names `what`.
    boost::asio::awaitable<result<void>> check_image(manifest m, std::string what);

    /// Nested indexes select() read or produced, by digest: the copy pushes these instead of reading them
    /// from the source again (a rewritten one is not there at all).
    const std::map<digest, manifest>& manifests() const { return manifests_; }

private:
    boost::asio::awaitable<result<platform_selection>> select_at(manifest index, int depth);
    boost::asio::awaitable<result<std::string>> read_config(descriptor config);

    registry& source_;
    std::string repository_;
    std::vector<platform> platforms_;
    std::map<digest, manifest> manifests_;
};

} // namespace libregistry::detail
