#include "storage_registries.hpp"
#include "session.hpp"

#include <fmt/format.h>
#include <libregistry/core/transport.hpp>
#include <libregistry/storage/docker_archive_registry.hpp>
#include <libregistry/storage/oci_archive_registry.hpp>

namespace syncer {

using namespace libregistry;

storage_registry& storage_registries::open(const std::string& name, bool writable, layout_naming naming) {
    if (auto* found = find(name)) return *found;
    auto parsed = parse_storage_registry_name(name);
    if (!parsed) throw usage_error(fmt::format("{} is not an image layout or archive", name));
    const auto& [kind, path] = *parsed;
    std::unique_ptr<storage_registry> opened;
    switch (kind) {
    case transport_kind::oci: {
        oci_layout_options options;
        options.naming = naming;
        options.writable = writable;
        auto r = oci_layout_registry::open(path, options);
        if (!r) throw usage_error(fmt::format("{}: {}", name, r.error().message));
        opened = std::move(*r);
        break;
    }
    case transport_kind::oci_archive: {
        oci_archive_options options;
        options.naming = naming;
        options.writable = writable;
        auto r = oci_archive_registry::open(path, options);
        if (!r) throw usage_error(fmt::format("{}: {}", name, r.error().message));
        opened = std::move(*r);
        break;
    }
    case transport_kind::docker_archive: {
        docker_archive_options options;
        options.writable = writable;
        auto r = docker_archive_registry::open(path, options);
        if (!r) throw usage_error(fmt::format("{}: {}", name, r.error().message));
        opened = std::move(*r);
        break;
    }
    case transport_kind::docker:
        throw usage_error(fmt::format("{} is not an image layout or archive", name));
    }
    auto& out = *opened;
    opened_.emplace(name, std::move(opened));
    if (writable) writable_.push_back(name);
    return out;
}

storage_registry* storage_registries::find(const std::string& name) const {
    auto it = opened_.find(name);
    return it == opened_.end() ? nullptr : it->second.get();
}

result<void> storage_registries::finish() {
    for (const auto& name : writable_) {
        auto r = opened_.at(name)->finish();
        if (!r) {
            auto e = r.error();
            e.message = fmt::format("{}: {}", name, e.message);
            return e;
        }
    }
    return {};
}

} // namespace syncer
