#pragma once
// What the config file parsers in this folder share (not for use outside it): reading one YAML or JSON
// document, unique keys, the `file:line` messages blame, and the section parsers the combined config file
// reuses.
#include "config/sync_config.hpp"

#include <libregistry/core/error.hpp>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <exception>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace syncer::detail {

/// `"s"`.
std::string in_quotes(std::string_view s);

/// An invalid_argument error saying `where: why`, or just `why` when `where` is empty.
libregistry::error config_error(std::string_view where, std::string_view why);

/// `NAME:LINE` (1-based), or just `NAME` when yaml-cpp has no position.
std::string at(std::string_view name, const YAML::Mark& mark);

/// The position to blame for a value: yaml-cpp places an empty (null) value on the following line, so
/// fall back to its key there.
YAML::Mark value_mark(const YAML::Node& key, const YAML::Node& value);

/// Where a section comes from: the file's name for messages and its format.
struct document_source {
    std::string_view name;
    file_format format;
};

/// A scalar JSON wrote without quotes: a number, true or false. JSON says a string is always quoted, so
/// such a value where a string belongs is a type error there; YAML has no such rule (image-syncer reads
/// `password: 12345` as a string), so this is false for YAML.
bool json_non_string(const YAML::Node& node, file_format format);

/// ` (a JSON number or boolean here; quote it)`, the hint for json_non_string.
inline constexpr std::string_view quote_it = " (a JSON number or boolean here; quote it)";

/// A YAML 1.2 core-schema boolean written plainly; a quoted "true" is a string, as in JSON.
std::optional<bool> plain_bool(const YAML::Node& node);

/// "JSON" or "YAML".
std::string_view format_name(file_format format);

/// One document, or a null node for an empty file. More than one YAML document is refused rather than
/// silently ignoring the rest.
libregistry::result<YAML::Node> load_document(std::string_view text, file_format format,
                                              std::string_view name);

/// Map keys must be unique scalars; YAML and JSON both say so, but yaml-cpp keeps duplicates.
libregistry::result<void> check_keys(const YAML::Node& map, std::string_view name);

/// The text of a config file, refusing anything larger than a config file can be.
libregistry::result<std::string> read_file(const std::string& path);

/// The sections: a whole auth or images file, or the `auth:` and `images:` values of a config file.
libregistry::result<std::vector<libregistry::credential_rule>>
auth_from(const YAML::Node& root, const document_source& doc, const env_lookup& env);
libregistry::result<std::vector<libregistry::sync_rule>>
images_from(const YAML::Node& root, const document_source& doc, const env_lookup& env);

/// Loads the document and hands it to `from`; yaml-cpp's own exceptions never escape.
template <class T, class From>
libregistry::result<T> parse_with(std::string_view text, file_format format, std::string_view name,
                                  const env_lookup& env, From from) {
    try {
        auto root = load_document(text, format, name);
        if (!root) return root.error();
        return from(*root, document_source{name, format}, env);
    } catch (const YAML::Exception& e) {
        return config_error(at(name, e.mark), fmt::format("invalid {}: {}", format_name(format), e.msg));
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception& e) {
        return config_error(name, fmt::format("cannot parse: {}", e.what()));
    }
}

/// Reads `path` and parses it by its extension.
template <class T, class Parse>
libregistry::result<T> load_with(const std::string& path, const env_lookup& env, Parse parse) {
    auto format = format_of(path);
    if (!format) return format.error();
    auto text = read_file(path);
    if (!text) return text.error();
    return parse(*text, *format, path, env);
}

} // namespace syncer::detail
