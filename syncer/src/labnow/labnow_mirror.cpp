#include "labnow/labnow_mirror.hpp"

#include "text.hpp"

#include <libregistry/core/reference.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace syncer {

using namespace libregistry;

namespace {

error request_error(std::string why) {
    return make_error(errc::invalid_argument, std::move(why));
}

/// A variable's value, with set-but-empty counted as unset: CI systems pass a missing secret as "".
std::optional<std::string> non_empty(const env_lookup& env, std::string_view name) {
    auto value = env(name);
    if (!value || value->empty()) return std::nullopt;
    return value;
}

result<std::optional<credential>> env_pair(const env_lookup& env, std::string_view user_var,
                                           std::string_view password_var) {
    auto user = non_empty(env, user_var);
    auto password = non_empty(env, password_var);
    if (!user && !password) return std::optional<credential>();
    // One without the other is a missing secret; failing now beats a 401 halfway through the run.
    if (!user || !password)
        return request_error(fmt::format("{} is set but {} is not; set both, or neither for anonymous access",
                                         user ? user_var : password_var, user ? password_var : user_var));
    credential c;
    c.username = std::move(*user);
    c.password = std::move(*password);
    return std::optional<credential>(std::move(c));
}

} // namespace

result<std::string> parse_registry(std::string_view text, std::string_view what) {
    auto rest = trim(text);
    if (rest.empty()) return request_error(fmt::format("{}: the registry is empty", what));
    bool url = false;
    if (const auto scheme = rest.find("://"); scheme != std::string_view::npos) {
        rest.remove_prefix(scheme + 3);
        url = true;
    }
    while (!rest.empty() && rest.back() == '/')
        rest.remove_suffix(1);
    // docker's legacy Docker Hub URL (`https://index.docker.io/v1/`) ends in the API version, not a
    // namespace.
    if (url && (rest.ends_with("/v1") || rest.ends_with("/v2"))) rest.remove_suffix(3);
    const auto slash = rest.find('/');
    const auto host = rest.substr(0, slash);
    // docker's rule for telling a registry from a first path component; without it `myregistry/labnow/x`
    // would silently become Docker Hub's `myregistry/labnow/x`.
    const bool looks_like_host = host.find_first_of(".:") != std::string_view::npos || host == "localhost";
    if (host.empty() || !looks_like_host || host.find_first_of(" \t@") != std::string_view::npos)
        return request_error(fmt::format("{}: \"{}\" is not a registry host[:port] (for example quay.io or "
                                         "registry.cn-hangzhou.aliyuncs.com)",
                                         what, text));
    auto out = normalize_registry(host);
    if (slash != std::string_view::npos) {
        const auto path = rest.substr(slash + 1);
        if (!is_repository_path(path))
            return request_error(
                fmt::format("{}: \"{}\" has a path that is not a repository namespace", what, text));
        out.append(1, '/').append(path);
    }
    return out;
}

result<std::vector<sync_rule>> mirror_rules(const mirror_request& r) {
    auto source_registry = parse_registry(r.source_registry, "source registry");
    if (!source_registry) return source_registry.error();
    if (r.targets.empty())
        return request_error("no target registry: give --target-registry HOST (repeatable, comma-separated) "
                             "or set DOCKER_MIRROR_REGISTRY");
    if (r.images.empty()) return request_error("no images to mirror");
    if (!is_repository_path(r.image_namespace))
        return request_error(fmt::format("image namespace \"{}\" is not a repository namespace (lower-case "
                                         "letters, digits and . _ - only)",
                                         r.image_namespace));
    std::vector<std::string> targets;
    for (const auto& t : r.targets) {
        auto target = parse_registry(t, "target registry");
        if (!target) return target.error();
        if (*target == *source_registry)
            return request_error(fmt::format(
                "target registry {} is the source registry; every image would be copied onto itself",
                *target));
        if (std::find(targets.begin(), targets.end(), *target) == targets.end())
            targets.push_back(std::move(*target));
    }
    const auto tag_suffix = r.tags.empty() ? std::string() : fmt::format(":{}", join(r.tags, ","));

    std::vector<sync_rule> rules;
    for (const auto& image : r.images) {
        const auto path = fmt::format("{}/{}", r.image_namespace, image.name);
        auto source = parse_source(fmt::format("{}/{}{}", *source_registry, path, tag_suffix));
        if (!source) return request_error(fmt::format("{}: {}", image.origin, source.error().message));
        sync_rule rule;
        rule.source = std::move(*source);
        rule.origin = image.origin;
        for (const auto& target : targets) {
            auto destination = parse_destination(fmt::format("{}/{}", target, path));
            if (!destination)
                return request_error(fmt::format("{}: {}", image.origin, destination.error().message));
            rule.destinations.push_back(std::move(*destination));
        }
        rules.push_back(std::move(rule));
    }
    return rules;
}

result<std::vector<credential_rule>> env_credentials(const env_lookup& env, const mirror_request& r) {
    std::vector<credential_rule> rules;
    auto add = [&](std::string key, const credential& cred, std::string_view origin) {
        // The first rule for a key wins; a second one of equal length would make the match ambiguous.
        if (std::any_of(rules.begin(), rules.end(), [&](const credential_rule& x) { return x.key == key; }))
            return;
        credential_rule rule;
        rule.key = std::move(key);
        rule.cred = cred;
        rule.origin = std::string(origin);
        rules.push_back(std::move(rule));
    };

    auto mirror = env_pair(env, "DOCKER_MIRROR_REGISTRY_USERNAME", "DOCKER_MIRROR_REGISTRY_PASSWORD");
    if (!mirror) return mirror.error();
    auto source = env_pair(env, "DOCKER_REGISTRY_USERNAME", "DOCKER_REGISTRY_PASSWORD");
    if (!source) return source.error();
    // Mirrors first: when a target is also named as the source, pushing is what needs the credentials.
    if (*mirror) {
        for (const auto& t : r.targets) {
            auto target = parse_registry(t, "target registry");
            if (!target) return target.error();
            add(std::move(*target), **mirror, "$DOCKER_MIRROR_REGISTRY_USERNAME");
        }
    }
    if (*source) {
        auto registry = parse_registry(r.source_registry, "source registry");
        if (!registry) return registry.error();
        add(std::move(*registry), **source, "$DOCKER_REGISTRY_USERNAME");
    }
    return rules;
}

} // namespace syncer
