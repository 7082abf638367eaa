#include "storage_registries.hpp"
#include "session.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <libregistry/core/transport.hpp>
#include <libregistry/storage/docker_archive_registry.hpp>
#include <libregistry/storage/empty_registry.hpp>
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

storage_registry& storage_registries::open_for_planning(const std::string& name) {
    if (auto* found = find(name)) return *found;
    auto parsed = parse_storage_registry_name(name);
    if (!parsed) throw usage_error(fmt::format("{} is not an image layout or archive", name));
    std::error_code ec;
    if (std::filesystem::exists(parsed->second, ec) || ec) return open(name, false);
    auto empty = std::make_unique<empty_registry>(name);
    auto& out = *empty;
    opened_.emplace(name, std::move(empty));
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

namespace syncer {

std::string image_argument::name() const {
    if (!location.is_storage()) return location.ref.name();
    if (!location.named) return location.ref.registry;
    return fmt::format("{}:{}", location.ref.registry, location.ref.repository);
}

namespace {

/// `oci:DIR:REPO` (or `oci:DIR`) as a repository argument: the image REPO:latest would be, without its tag,
/// so that the repository is checked and normalised (docker-archive's) as an image's is.
result<image_location> parse_storage_repository(const std::string& text) {
    for (auto kind : {transport_kind::oci, transport_kind::oci_archive, transport_kind::docker_archive}) {
        const auto prefix = fmt::format("{}:", to_string(kind));
        if (!text.starts_with(prefix)) continue;
        const auto colon = text.find(':', prefix.size());
        const auto after = colon == std::string::npos ? std::string() : text.substr(colon + 1);
        if (after.find_first_of(":@") != std::string::npos)
            return make_error(errc::invalid_reference,
                              fmt::format("{} names an image; give the repository ({}:REPOSITORY), or the "
                                          "layout alone",
                                          text, text.substr(0, colon)));
        auto parsed = parse_image_location(text + ":latest");
        if (!parsed) return parsed.error();
        parsed->ref.tag.clear();
        return parsed;
    }
    return make_error(errc::invalid_reference, fmt::format("{} is not an image layout or archive", text));
}

} // namespace

image_argument open_image_argument(session& s, storage_registries& storage, const std::string& text,
                                   const endpoint_flags& flags, bool writable, bool repository_only) {
    const bool storage_text =
        text.starts_with("oci:") || text.starts_with("oci-archive:") || text.starts_with("docker-archive:");
    if (!storage_text) {
        image_location location;
        if (repository_only) {
            auto ref = parse_repository(text);
            if (!ref) throw usage_error(fmt::format("invalid repository: {}", ref.error().message));
            location.ref = std::move(*ref);
        } else {
            location.ref = parse_cli_reference(text, "invalid reference");
        }
        auto& reg = s.open(location.ref.registry, flags);
        return {std::move(location), reg};
    }
    auto location = repository_only ? parse_storage_repository(text) : parse_image_location(text);
    if (!location)
        throw usage_error(fmt::format("invalid {}: {}", repository_only ? "repository" : "reference",
                                      location.error().message));
    if (!repository_only && location->ref.tag.empty() && !location->ref.digest)
        throw usage_error(fmt::format("{}: name the image: {}:REPOSITORY:TAG (a bundle) or {}:TAG", text,
                                      location->ref.registry, location->ref.registry));
    const auto naming = location->named ? layout_naming::bundle : layout_naming::single;
    auto& reg = storage.open(location->ref.registry, writable, naming);
    return {std::move(*location), reg};
}

} // namespace syncer
