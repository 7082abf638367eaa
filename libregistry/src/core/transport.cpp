#include "libregistry/core/transport.hpp"

#include "core/detail/quote.hpp"

#include <array>
#include <utility>

namespace libregistry {

namespace {

constexpr std::array<std::pair<std::string_view, transport_kind>, 3> storage_transports{{
    {"oci-archive:", transport_kind::oci_archive},
    {"docker-archive:", transport_kind::docker_archive},
    {"oci:", transport_kind::oci},
}};

using detail::in_quotes;
using detail::invalid_reference;

} // namespace

std::string_view to_string(transport_kind kind) noexcept {
    switch (kind) {
    case transport_kind::docker:
        return "docker";
    case transport_kind::oci:
        return "oci";
    case transport_kind::oci_archive:
        return "oci-archive";
    case transport_kind::docker_archive:
        return "docker-archive";
    }
    return "docker";
}

std::string storage_registry_name(transport_kind kind, std::string_view path) {
    std::string out(to_string(kind));
    out.append(1, ':').append(path);
    return out;
}

std::optional<std::pair<transport_kind, std::string>> parse_storage_registry_name(std::string_view name) {
    for (const auto& [prefix, kind] : storage_transports)
        if (name.starts_with(prefix)) return std::pair{kind, std::string(name.substr(prefix.size()))};
    return std::nullopt;
}

std::string image_location::str() const {
    if (!is_storage()) return ref.str();
    std::string out = storage_registry_name(transport, path);
    if (named) {
        out.append(1, ':').append(ref.repository);
        if (ref.digest) return out.append(1, '@').append(ref.digest->str());
        return out.append(1, ':').append(ref.tag);
    }
    if (ref.digest) return out.append(":@").append(ref.digest->str());
    if (!ref.tag.empty()) out.append(1, ':').append(ref.tag);
    return out;
}

result<image_location> parse_image_location(std::string_view text) {
    image_location out;
    for (const auto& [prefix, kind] : storage_transports) {
        if (!text.starts_with(prefix)) continue;
        out.transport = kind;
        auto rest = text.substr(prefix.size());
        // skopeo 1.9.3 (oci/internal.splitPathAndImage): the path ends at the first ':'.
        const auto colon = rest.find(':');
        auto path = rest.substr(0, colon);
        if (path.empty())
            return invalid_reference(text, std::string(prefix) + " needs a path: " + std::string(prefix) +
                                               (kind == transport_kind::oci ? "DIR" : "FILE") +
                                               "[:REFERENCE]");
        std::string_view image;
        if (colon != std::string_view::npos) image = rest.substr(colon + 1);
        out.path = std::string(path);
        out.ref.registry = storage_registry_name(kind, path);
        if (colon == std::string_view::npos) return out;
        const auto at = image.find('@');
        auto name = image.substr(0, at);
        if (at != std::string_view::npos) {
            auto d = digest::parse(image.substr(at + 1));
            if (!d) return invalid_reference(text, d.error().message);
            out.ref.digest = std::move(*d);
        }
        if (name.empty()) {
            if (!out.ref.digest) return invalid_reference(text, "the reference after the path is empty");
            return out;
        }
        // A tag never contains ':' or '/', so the last ':' ends a repository.
        const auto last_colon = name.rfind(':');
        const auto slash = name.rfind('/');
        const bool has_repository = out.ref.digest || last_colon != std::string_view::npos ||
                                    slash != std::string_view::npos || kind == transport_kind::docker_archive;
        if (!has_repository) {
            if (!is_valid_tag(name))
                return invalid_reference(text, in_quotes(name) + " is not a tag; give TAG, @DIGEST or "
                                                                 "REPOSITORY:TAG after the path");
            out.ref.tag = std::string(name);
            return out;
        }
        std::string_view repository = name;
        if (!out.ref.digest) {
            if (last_colon == std::string_view::npos)
                return invalid_reference(text, in_quotes(name) + " names a repository without a tag; give "
                                                                 "REPOSITORY:TAG or REPOSITORY@DIGEST");
            repository = name.substr(0, last_colon);
            const auto tag = name.substr(last_colon + 1);
            if (!is_valid_tag(tag)) return invalid_reference(text, in_quotes(tag) + " is not a valid tag");
            out.ref.tag = std::string(tag);
        } else if (last_colon != std::string_view::npos) {
            return invalid_reference(text, "give a tag or a digest, not both");
        }
        if (kind == transport_kind::docker_archive) {
            // docker save's RepoTags: a docker reference, `alpine:3.19` or `host/repo:tag`.
            auto parsed = parse_repository(repository);
            if (!parsed) return invalid_reference(text, parsed.error().message);
            out.ref.repository = parsed->name();
        } else {
            if (!is_valid_repository_path(repository))
                return invalid_reference(text, in_quotes(repository) +
                                                   " is not a repository path (lowercase components "
                                                   "separated by '/', as library/alpine)");
            out.ref.repository = std::string(repository);
        }
        out.named = true;
        return out;
    }
    auto ref = parse_reference(text);
    if (!ref) return ref.error();
    out.ref = std::move(*ref);
    return out;
}

} // namespace libregistry
