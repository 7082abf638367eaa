// The combined config file (`--config`): `{auth: ..., images: ...}`.
#include "config/document.hpp"

namespace syncer {

using namespace libregistry;

namespace detail {

namespace {

result<sync_config> config_from(const YAML::Node& root, const document_source& doc, const env_lookup& env) {
    const auto name = doc.name;
    sync_config config;
    if (root.IsNull()) return config;
    if (!root.IsMap())
        return config_error(at(name, root.Mark()), "expected a map with \"auth\" and/or \"images\"");
    if (auto keys = check_keys(root, name); !keys) return keys.error();
    for (const auto& entry : root) {
        const auto& key = entry.first.Scalar();
        if (key == "auth") {
            auto auth = auth_from(entry.second, doc, env);
            if (!auth) return auth.error();
            config.auth = std::move(*auth);
        } else if (key == "images") {
            auto images = images_from(entry.second, doc, env);
            if (!images) return images.error();
            config.images = std::move(*images);
        } else {
            return config_error(
                at(name, entry.first.Mark()),
                fmt::format("unknown key {} (expected \"auth\" or \"images\")", in_quotes(key)));
        }
    }
    return config;
}

} // namespace

} // namespace detail

result<sync_config> parse_config(std::string_view text, file_format format, std::string_view name,
                                 const env_lookup& env) {
    return detail::parse_with<sync_config>(text, format, name, env, detail::config_from);
}

result<sync_config> load_config_file(const std::string& path, const env_lookup& env) {
    return detail::load_with<sync_config>(path, env, parse_config);
}

} // namespace syncer
