// The auth file (`--auth`, or `auth:` in `--config`): registry[/namespace] -> {username, password, insecure}.
#include "config/document.hpp"

#include "text.hpp"

#include <map>
#include <optional>
#include <utility>

namespace syncer {

using namespace libregistry;

namespace detail {

namespace {

/// `host[:port][/namespace...]` as written in an auth file -> the rule key. A key written as a URL is
/// docker's legacy form, where the path is the API version (`https://index.docker.io/v1/`) and only the host
/// counts.
result<std::string> normalize_auth_key(std::string_view written) {
    auto key = trim(written);
    bool url = false;
    if (const auto scheme = key.find("://"); scheme != std::string_view::npos) {
        key.remove_prefix(scheme + 3);
        url = true;
    }
    while (!key.empty() && key.back() == '/')
        key.remove_suffix(1);
    const auto slash = key.find('/');
    const auto host = key.substr(0, slash);
    if (host.empty()) return config_error({}, "names no registry host");
    if (host.find_first_of(" \t@") != std::string_view::npos)
        return config_error({}, "is not a registry host[:port][/namespace]");
    auto out = normalize_registry(host);
    if (slash == std::string_view::npos || url) return out;
    const auto path = key.substr(slash + 1);
    if (path.front() == '/' || path.find("//") != std::string_view::npos)
        return config_error({}, "has an empty path component");
    if (path.find_first_of(" \t:@") != std::string_view::npos)
        return config_error({}, "has a namespace that is not a repository path");
    out.append(1, '/').append(path);
    return out;
}

result<credential_rule> auth_entry(const YAML::Node& key, const YAML::Node& value, const document_source& doc,
                                   const env_lookup& env) {
    const auto name = doc.name;
    const auto& written = key.Scalar();
    const auto where = at(name, key.Mark());
    auto normalized = normalize_auth_key(written);
    if (!normalized)
        return config_error(
            where, fmt::format("registry key {} {}", in_quotes(written), normalized.error().message));
    if (!value.IsMap())
        return config_error(
            at(name, value_mark(key, value)),
            fmt::format("{}: expected a map with username, password and/or insecure", in_quotes(written)));
    if (auto keys = check_keys(value, name); !keys) return keys.error();

    credential_rule rule;
    rule.key = std::move(*normalized);
    rule.origin = where;
    bool has_username = false;
    bool has_password = false;
    for (const auto& entry : value) {
        const auto& field = entry.first.Scalar();
        const auto& field_value = entry.second;
        const auto field_where = at(name, value_mark(entry.first, field_value));
        if (field == "username" || field == "password") {
            const bool typed = json_non_string(field_value, doc.format);
            if ((!field_value.IsScalar() && !field_value.IsNull()) || typed)
                return config_error(field_where, fmt::format("{}: {} must be a string{}", in_quotes(written),
                                                             in_quotes(field), typed ? quote_it : ""));
            // Never quote the value: it may be a password.
            auto expanded =
                expand_env(field_value.IsNull() ? std::string() : field_value.Scalar(), env,
                           fmt::format("{}: {}: {}", field_where, in_quotes(written), in_quotes(field)));
            if (!expanded) return expanded.error();
            if (field == "username") {
                rule.cred.username = std::move(*expanded);
                has_username = true;
            } else {
                rule.cred.password = std::move(*expanded);
                has_password = true;
            }
        } else if (field == "insecure") {
            const auto flag = plain_bool(field_value);
            if (!flag)
                return config_error(
                    field_where, fmt::format("{}: \"insecure\" must be true or false", in_quotes(written)));
            rule.insecure = *flag;
        } else {
            return config_error(at(name, entry.first.Mark()),
                                fmt::format("{}: unknown key {} (expected username, password or insecure)",
                                            in_quotes(written), in_quotes(field)));
        }
    }
    // One without the other is almost always a typo or a missing variable, and would fail later as a 401.
    if (has_username != has_password)
        return config_error(where, fmt::format("{}: {} is set but {} is not", in_quotes(written),
                                               has_username ? "\"username\"" : "\"password\"",
                                               has_username ? "\"password\"" : "\"username\""));
    return rule;
}

} // namespace

result<std::vector<credential_rule>> auth_from(const YAML::Node& root, const document_source& doc,
                                               const env_lookup& env) {
    const auto name = doc.name;
    std::vector<credential_rule> rules;
    if (!root.IsDefined() || root.IsNull()) return rules;
    if (!root.IsMap())
        return config_error(at(name, root.Mark()),
                            "expected a map of registry[/namespace] -> {username, password, insecure}");
    if (auto keys = check_keys(root, name); !keys) return keys.error();
    std::map<std::string, std::pair<std::string, int>, std::less<>> seen; // normalised key -> written, line
    for (const auto& entry : root) {
        auto rule = auth_entry(entry.first, entry.second, doc, env);
        if (!rule) return rule.error();
        const auto [previous, inserted] =
            seen.emplace(rule->key, std::pair{entry.first.Scalar(), entry.first.Mark().line + 1});
        if (!inserted)
            return config_error(rule->origin,
                                fmt::format("{} names the same registry as {} on line {}",
                                            in_quotes(entry.first.Scalar()),
                                            in_quotes(previous->second.first), previous->second.second));
        rules.push_back(std::move(*rule));
    }
    return rules;
}

} // namespace detail

result<std::vector<credential_rule>> parse_auth(std::string_view text, file_format format,
                                                std::string_view name, const env_lookup& env) {
    return detail::parse_with<std::vector<credential_rule>>(text, format, name, env, detail::auth_from);
}

result<std::vector<credential_rule>> load_auth_file(const std::string& path, const env_lookup& env) {
    return detail::load_with<std::vector<credential_rule>>(path, env, parse_auth);
}

} // namespace syncer
