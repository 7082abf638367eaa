#pragma once
// Images for the storage back ends' tests: OCI images, indexes and nested indexes seeded into a
// memory_registry, copied with the copy engine, and a way to run one coroutine to its end.
#include "memory_registry.hpp"

#include <libregistry/core/media_type.hpp>
#include <libregistry/core/reference.hpp>
#include <libregistry/sync/copy.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace libregistry::testing {

template <class T>
T run(boost::asio::awaitable<T> task) {
    boost::asio::io_context io;
    std::optional<T> out;
    boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
        if (e) std::rethrow_exception(e);
        out = std::move(value);
    });
    io.run();
    return std::move(*out);
}

inline std::string descriptor_json(std::string_view media_type, const digest& d, std::size_t size,
                                   std::string_view extra = {}) {
    return fmt::format(R"({{"mediaType":"{}","digest":"{}","size":{}{}}})", media_type, d.str(), size, extra);
}

/// An image of `layers` (gzip-typed layers holding the given bytes) for `os_arch`, tagged `tag` when given.
inline manifest add_image(memory_registry& reg, const std::string& repo,
                          const std::vector<std::string>& layers, const std::string& tag = {},
                          const std::string& os_arch = "linux/amd64",
                          std::string_view manifest_type = media_types::oci_manifest) {
    const auto slash = os_arch.find('/');
    const bool docker = manifest_type == media_types::docker_manifest;
    const std::string config =
        fmt::format(R"({{"architecture":"{}","os":"{}","rootfs":{{"type":"layers","diff_ids":[]}}}})",
                    os_arch.substr(slash + 1), os_arch.substr(0, slash));
    const auto config_digest = reg.add_blob(repo, config);
    std::string layer_json;
    for (const auto& l : layers) {
        const auto d = reg.add_blob(repo, l);
        if (!layer_json.empty()) layer_json += ",";
        layer_json += descriptor_json(docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
                                             : "application/vnd.oci.image.layer.v1.tar+gzip",
                                      d, l.size());
    }
    const auto bytes =
        fmt::format(R"({{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[{}]}})", manifest_type,
                    descriptor_json(docker ? "application/vnd.docker.container.image.v1+json"
                                           : "application/vnd.oci.image.config.v1+json",
                                    config_digest, config.size()),
                    layer_json);
    return reg.add_manifest(repo, bytes, tag);
}

/// An OCI index of `children` (each with its platform `os/arch`, or none when empty).
inline manifest add_index(memory_registry& reg, const std::string& repo,
                          const std::vector<std::pair<manifest, std::string>>& children,
                          const std::string& tag) {
    std::string entries;
    for (const auto& [m, plat] : children) {
        const auto slash = plat.find('/');
        if (!entries.empty()) entries += ",";
        entries +=
            descriptor_json(m.media_type, m.digest, m.bytes.size(),
                            plat.empty() ? std::string()
                                         : fmt::format(R"(,"platform":{{"os":"{}","architecture":"{}"}})",
                                                       plat.substr(0, slash), plat.substr(slash + 1)));
    }
    const auto bytes = fmt::format(R"({{"schemaVersion":2,"mediaType":"{}","manifests":[{}]}})",
                                   media_types::oci_index, entries);
    return reg.add_manifest(repo, bytes, tag);
}

/// `registry/repository:tag` as a reference.
inline reference image_ref(const std::string& text) {
    return parse_reference(text).value();
}

/// copy_image with default options; fails the test on error.
inline copy_stats copy(registry& from_reg, const std::string& from, registry& to_reg, const std::string& to) {
    auto r = run(copy_image(from_reg, image_ref(from), to_reg, image_ref(to), copy_options{}));
    if (!r) FAIL_CHECK(r.error().message);
    REQUIRE(r.has_value());
    return *r;
}

} // namespace libregistry::testing
