#include "libregistry/core/reference.hpp"

#include "core/detail/quote.hpp"

#include "core/detail/ascii.hpp"

#include <algorithm>
#include <optional>
#include <utility>

namespace libregistry {
namespace {

using detail::iequals;
using detail::is_digit;
using detail::to_lower;

// distribution/reference: the whole name, host included, may not exceed 255 characters.
constexpr std::size_t max_name_length = 255;
constexpr std::size_t max_tag_length = 128;

bool is_lower_alnum(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) noexcept {
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}
bool is_word(char c) noexcept {
    return is_alnum(c) || c == '_';
}
bool is_hex(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

using detail::in_quotes;
using detail::invalid_reference;

/// pathComponent: `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`. Returns why it does not match, if it does not.
std::optional<std::string> path_component_problem(std::string_view c) {
    if (c.empty()) return "repository name has an empty path component";
    if (!is_lower_alnum(c.front()) || !is_lower_alnum(c.back()))
        return "path component " + in_quotes(c) + " must start and end with a lowercase letter or digit";
    std::size_t i = 0;
    while (i < c.size()) {
        if (is_lower_alnum(c[i])) {
            ++i;
            continue;
        }
        const auto start = i;
        while (i < c.size() && !is_lower_alnum(c[i]))
            ++i;
        const auto sep = c.substr(start, i - start);
        const bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
        if (sep == "." || sep == "_" || sep == "__" || dashes) continue;
        return "path component " + in_quotes(c) + " has invalid separator " + in_quotes(sep) +
               " (allowed: '.', '_', '__' or dashes, each between letters or digits)";
    }
    return std::nullopt;
}

/// domainAndPort: `(domainName | "[" ipv6 "]") (":" [0-9]+)?`, where a domainName component is
/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
std::optional<std::string> host_problem(std::string_view host) {
    std::string_view name = host;
    std::string_view port;
    bool has_port = false;
    if (!host.empty() && host.front() == '[') {
        const auto close = host.find(']');
        if (close == std::string_view::npos)
            return "registry host " + in_quotes(host) + " has no closing ']'";
        const auto address = host.substr(1, close - 1);
        if (address.empty() ||
            !std::all_of(address.begin(), address.end(), [](char c) { return is_hex(c) || c == ':'; }))
            return "registry host " + in_quotes(host) + " is not a valid IPv6 address in brackets";
        const auto rest = host.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return "registry host " + in_quotes(host) + " has text after ']'";
            has_port = true;
            port = rest.substr(1);
        }
        name = {};
    } else if (const auto colon = host.find(':'); colon != std::string_view::npos) {
        name = host.substr(0, colon);
        port = host.substr(colon + 1);
        has_port = true;
    }
    if (has_port && (port.empty() || !std::all_of(port.begin(), port.end(), is_digit)))
        return "registry host " + in_quotes(host) + " has an invalid port " + in_quotes(port);
    if (!host.empty() && host.front() == '[') return std::nullopt;
    if (name.empty()) return "registry host " + in_quotes(host) + " has an empty host name";
    std::size_t start = 0;
    while (start <= name.size()) {
        const auto dot = std::min(name.find('.', start), name.size());
        const auto label = name.substr(start, dot - start);
        if (label.empty() || !is_alnum(label.front()) || !is_alnum(label.back()) ||
            !std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; }))
            return "registry host " + in_quotes(host) + " is not a valid host name";
        start = dot + 1;
    }
    return std::nullopt;
}

std::optional<std::string> tag_problem(std::string_view tag) {
    if (tag.empty()) return "tag is empty";
    if (tag.size() > max_tag_length)
        return "tag is " + std::to_string(tag.size()) + " characters long, the maximum is 128";
    if (!is_word(tag.front())) return "tag must start with a letter, digit or '_'";
    for (const char c : tag)
        if (!is_word(c) && c != '.' && c != '-')
            return "character '" + std::string(1, c) +
                   "' is not allowed in a tag (allowed: A-Z a-z 0-9 _ . -)";
    return std::nullopt;
}

bool is_docker_hub(std::string_view host) noexcept {
    return iequals(host, "docker.io") || iequals(host, "index.docker.io") ||
           iequals(host, "registry-1.docker.io");
}

} // namespace

std::string reference::name() const {
    return registry + "/" + repository;
}

std::string reference::identifier() const {
    if (digest) return digest->str();
    if (!tag.empty()) return tag;
    return "latest";
}

std::string reference::str() const {
    auto out = name();
    if (!tag.empty()) out += ":" + tag;
    if (digest) out += "@" + digest->str();
    return out;
}

std::string api_host_of(std::string_view registry) {
    return std::string(registry == docker_hub_registry ? docker_hub_api_host : registry);
}

std::string reference::api_host() const {
    return api_host_of(registry);
}

bool is_valid_tag(std::string_view tag) noexcept {
    return !tag_problem(tag).has_value();
}

bool is_valid_repository_path(std::string_view path) noexcept {
    if (path.empty() || path.size() > max_name_length) return false;
    std::size_t start = 0;
    for (;;) {
        const auto slash = path.find('/', start);
        const auto component = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
        if (path_component_problem(component)) return false;
        if (slash == std::string_view::npos) return true;
        start = slash + 1;
    }
}

std::string normalize_registry(std::string_view host) {
    if (const auto scheme = host.find("://"); scheme != std::string_view::npos)
        host.remove_prefix(scheme + 3);
    // Only the host matters: docker's config.json keys Docker Hub as `https://index.docker.io/v1/`, and a
    // registry API always lives at `/v2/` on its host.
    host = host.substr(0, host.find('/'));
    if (is_docker_hub(host)) return std::string(docker_hub_registry);
    return std::string(host);
}

std::optional<std::string> transport_problem(std::string_view text) {
    for (const std::string_view transport : {"oci", "oci-archive", "docker-archive", "docker-daemon", "dir",
                                             "containers-storage", "ostree", "sif", "tarball", "ocidir"}) {
        if (text.size() > transport.size() && text.starts_with(transport) && text[transport.size()] == ':')
            return in_quotes(std::string(transport) + ":") +
                   " is a transport syncer does not have; it reads and writes registries: "
                   "[docker://]HOST/REPOSITORY[:TAG|@DIGEST]";
    }
    return std::nullopt;
}

result<reference> parse_reference(std::string_view input) {
    std::string_view text = input;
    if (text.starts_with("docker://")) text.remove_prefix(9);
    if (text.empty()) return invalid_reference(input, "reference is empty");
    if (auto why = transport_problem(text)) return invalid_reference(input, *why);
    if (const auto scheme = text.find("://"); scheme != std::string_view::npos)
        return invalid_reference(input, "a reference takes no URL scheme; drop " +
                                            in_quotes(text.substr(0, scheme + 3)));

    // docker refuses bare 64-hex names so an image ID is never mistaken for a repository.
    if (text.size() == 64 &&
        std::all_of(text.begin(), text.end(), [](char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }))
        return invalid_reference(input, "a 64-character hex string is an image ID, not a repository name");

    reference ref;
    std::string_view name = text;
    if (const auto at = name.find('@'); at != std::string_view::npos) {
        const auto digest_text = name.substr(at + 1);
        auto parsed = digest::parse(digest_text);
        if (!parsed) {
            // Keep digest::parse's explanation, but say which reference it came from.
            const auto prefix = "invalid digest " + in_quotes(digest_text);
            auto message = parsed.error().message;
            if (message.starts_with(prefix))
                message.insert(prefix.size(), " in " + in_quotes(input));
            else
                message = "invalid reference " + in_quotes(input) + ": " + message;
            return make_error(errc::invalid_reference, std::move(message));
        }
        ref.digest = std::move(*parsed);
        name = name.substr(0, at);
    }
    // A tag is whatever follows the last ':' after the last '/', so `host:5000/repo` keeps its port.
    const auto last_slash = name.rfind('/');
    if (const auto colon = name.rfind(':');
        colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
        const auto tag = name.substr(colon + 1);
        if (auto why = tag_problem(tag))
            return make_error(errc::invalid_reference,
                              "invalid tag " + in_quotes(tag) + " in " + in_quotes(input) + ": " + *why);
        ref.tag = std::string(tag);
        name = name.substr(0, colon);
    }
    if (name.empty()) return invalid_reference(input, "repository name is empty");

    std::string_view path = name;
    if (const auto slash = name.find('/'); slash != std::string_view::npos) {
        const auto first = name.substr(0, slash);
        if (first.find_first_of(".:") != std::string_view::npos || first == "localhost") {
            if (auto why = host_problem(first)) return invalid_reference(input, *why);
            ref.registry = normalize_registry(first);
            path = name.substr(slash + 1);
        }
    }
    if (ref.registry.empty()) ref.registry = std::string(docker_hub_registry);

    if (std::any_of(path.begin(), path.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
        return invalid_reference(input, "repository name must be lowercase");
    std::size_t start = 0;
    while (start <= path.size()) {
        const auto slash = std::min(path.find('/', start), path.size());
        if (auto why = path_component_problem(path.substr(start, slash - start)))
            return invalid_reference(input, *why);
        start = slash + 1;
    }

    // Docker Hub's official images live under `library/`; `ubuntu` means `library/ubuntu`.
    if (ref.registry == docker_hub_registry && path.find('/') == std::string_view::npos)
        ref.repository = "library/" + std::string(path);
    else
        ref.repository = std::string(path);

    if (const auto length = ref.name().size(); length > max_name_length)
        return invalid_reference(input, "repository name is " + std::to_string(length) +
                                            " characters long, the maximum is 255");
    return ref;
}

result<reference> parse_repository(std::string_view text) {
    auto ref = parse_reference(text);
    if (!ref) return ref;
    if (!ref->tag.empty() || ref->digest)
        return make_error(errc::invalid_reference, "invalid repository " + in_quotes(text) +
                                                       ": a repository name takes no tag or digest");
    return ref;
}

} // namespace libregistry
