#pragma once
// When the image a tag names was created, for `latest: N` over tags that are not versions (tag_policy.hpp):
// the manifest, for an index its first image (attestations left out), and that image's config.
#include "libregistry/client/registry.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace libregistry::detail {

/// The config's `created`; nullopt when the image has none (or is schema 1, or an artifact).
boost::asio::awaitable<result<std::optional<std::chrono::sys_time<std::chrono::microseconds>>>>
image_created(registry& source, std::string repository, std::string tag);

} // namespace libregistry::detail
