#include "config/sync_config.hpp"

#include "text.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <re2/re2.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <new>
#include <sstream>
#include <utility>

namespace syncer {

using namespace libregistry;

namespace {

// Config files are small; anything bigger is almost certainly the wrong file.
constexpr std::streamsize max_config_size = 16 * 1024 * 1024;

// Appending, not `"\"" + std::string(s)`: g++ 12 reports a false -Wrestrict on the latter.
std::string in_quotes(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out.append(1, '"').append(s).append(1, '"');
    return out;
}

error config_error(std::string_view where, std::string_view why) {
    if (where.empty()) return make_error(errc::invalid_argument, std::string(why));
    return make_error(errc::invalid_argument, fmt::format("{}: {}", where, why));
}

bool is_name_start(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_name_char(char c) noexcept {
    return is_name_start(c) || (c >= '0' && c <= '9');
}
bool is_variable_name(std::string_view name) noexcept {
    return !name.empty() && is_name_start(name.front()) &&
           std::all_of(name.begin(), name.end(), is_name_char);
}

/// `NAME:LINE` (1-based), or just `NAME` when yaml-cpp has no position.
std::string at(std::string_view name, const YAML::Mark& mark) {
    return file_line(name, mark.is_null() ? -1 : mark.line);
}

/// The position to blame for a value: yaml-cpp places an empty (null) value on the following line, so
/// fall back to its key there.
YAML::Mark value_mark(const YAML::Node& key, const YAML::Node& value) {
    return value.IsNull() ? key.Mark() : value.Mark();
}

std::string_view format_name(file_format format) {
    return format == file_format::json ? "JSON" : "YAML";
}

/// Records where each document starts and ignores the rest; see load_document.
class document_counter final : public YAML::EventHandler {
public:
    explicit document_counter(std::vector<YAML::Mark>& starts) : starts_(starts) {}
    void OnDocumentStart(const YAML::Mark& mark) override { starts_.push_back(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}

private:
    std::vector<YAML::Mark>& starts_;
};

/// One document, or a null node for an empty file. More than one YAML document is refused rather than
/// silently ignoring the rest.
result<YAML::Node> load_document(std::string_view text, file_format format, std::string_view name) {
    // YAML::Node converts from anything, so the error needs naming explicitly.
    const auto fail = [](error e) { return result<YAML::Node>(boost::system::in_place_error, std::move(e)); };
    // yaml-cpp reads JSON as YAML and so forgives JSON syntax errors (`"a": }` loads as a null value); a
    // .json file is held to JSON first.
    if (format == file_format::json && text.find_first_not_of(" \t\r\n") != std::string_view::npos) {
        try {
            auto parsed = nlohmann::json::parse(text);
            (void)parsed;
        } catch (const nlohmann::json::parse_error& e) {
            auto upto = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
            auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(upto), '\n');
            std::string_view what = e.what();
            if (auto pos = what.find("] "); pos != std::string_view::npos) what.remove_prefix(pos + 2);
            return fail(
                config_error(fmt::format("{}:{}", name, line), fmt::format("invalid JSON: {}", what)));
        } catch (const nlohmann::json::exception& e) {
            // A value the parser cannot hold, such as a number beyond a double (1e999).
            std::string_view what = e.what();
            if (auto pos = what.find("] "); pos != std::string_view::npos) what.remove_prefix(pos + 2);
            return fail(config_error(name, fmt::format("invalid JSON: {}", what)));
        }
    }
    // A first pass counts documents without building them. YAML::LoadAll is not used: yaml-cpp 0.7 never
    // consumes a "," outside a flow collection (",a" is a whole file that does it), so LoadAll appends empty
    // documents forever. Here the parser showing the same document start twice means it is stuck there.
    std::vector<YAML::Mark> starts;
    try {
        std::istringstream in{std::string(text)};
        YAML::Parser parser(in);
        document_counter counter(starts);
        while (starts.size() < 3 && parser.HandleNextDocument(counter)) {
        }
    } catch (const YAML::Exception& e) {
        return fail(
            config_error(at(name, e.mark), fmt::format("invalid {}: {}", format_name(format), e.msg)));
    }
    const auto stuck = std::adjacent_find(starts.begin(), starts.end(),
                                          [](const auto& a, const auto& b) { return a.pos == b.pos; });
    if (stuck != starts.end()) {
        auto bad = stuck->pos >= 0 && static_cast<std::size_t>(stuck->pos) < text.size()
                       ? text[static_cast<std::size_t>(stuck->pos)]
                       : '?';
        const char* hint = bad == ',' ? " (a ',' belongs inside [...] or {...})" : "";
        return fail(config_error(
            at(name, *stuck), fmt::format("invalid {}: unexpected '{}'{}", format_name(format), bad, hint)));
    }
    if (starts.size() > 1)
        return fail(
            config_error(at(name, starts[1]), "a second YAML document; a config file holds exactly one"));
    if (starts.empty()) return result<YAML::Node>(boost::system::in_place_value, YAML::NodeType::Null);
    try {
        return result<YAML::Node>(boost::system::in_place_value, YAML::Load(std::string(text)));
    } catch (const YAML::Exception& e) {
        return fail(
            config_error(at(name, e.mark), fmt::format("invalid {}: {}", format_name(format), e.msg)));
    }
}

/// Map keys must be unique scalars; YAML and JSON both say so, but yaml-cpp keeps duplicates.
result<void> check_keys(const YAML::Node& map, std::string_view name) {
    std::map<std::string, int, std::less<>> seen;
    for (const auto& entry : map) {
        const auto& key = entry.first;
        if (!key.IsScalar()) return config_error(at(name, key.Mark()), "a map key must be a string");
        const auto [previous, inserted] = seen.emplace(key.Scalar(), key.Mark().line + 1);
        if (!inserted)
            return config_error(at(name, key.Mark()), fmt::format("duplicate key {} (first on line {})",
                                                                  in_quotes(key.Scalar()), previous->second));
    }
    return {};
}

// ---- auth ------------------------------------------------------------------------------------------------

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

/// A YAML 1.2 core-schema boolean written plainly; a quoted "true" is a string, as in JSON.
std::optional<bool> plain_bool(const YAML::Node& node) {
    if (!node.IsScalar() || node.Tag() == "!") return std::nullopt;
    const auto& s = node.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    return std::nullopt;
}

result<credential_rule> auth_entry(const YAML::Node& key, const YAML::Node& value, std::string_view name,
                                   const env_lookup& env) {
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
            if (!field_value.IsScalar() && !field_value.IsNull())
                return config_error(field_where, fmt::format("{}: {} must be a string", in_quotes(written),
                                                             in_quotes(field)));
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

result<std::vector<credential_rule>> auth_from(const YAML::Node& root, std::string_view name,
                                               const env_lookup& env) {
    std::vector<credential_rule> rules;
    if (!root.IsDefined() || root.IsNull()) return rules;
    if (!root.IsMap())
        return config_error(at(name, root.Mark()),
                            "expected a map of registry[/namespace] -> {username, password, insecure}");
    if (auto keys = check_keys(root, name); !keys) return keys.error();
    std::map<std::string, std::pair<std::string, int>, std::less<>> seen; // normalised key -> written, line
    for (const auto& entry : root) {
        auto rule = auth_entry(entry.first, entry.second, name, env);
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

// ---- images ----------------------------------------------------------------------------------------------

// The internal parsers return only the reason; callers prefix what and where.

result<reference> repository_of(std::string_view text) {
    auto ref = parse_repository(text);
    if (!ref) return config_error({}, ref.error().message);
    return ref;
}

/// `t1, t2,,t3` -> {t1, t2, t3}; every tag validated.
result<std::vector<std::string>> tag_list(std::string_view text) {
    std::vector<std::string> tags;
    while (true) {
        const auto comma = text.find(',');
        const auto tag = trim(text.substr(0, comma));
        if (!tag.empty()) {
            if (!is_valid_tag(tag))
                return config_error({},
                                    fmt::format("invalid tag {} (allowed: A-Z a-z 0-9 _ . -, starting with a "
                                                "letter, digit or '_', at most 128 characters)",
                                                in_quotes(tag)));
            tags.emplace_back(tag);
        }
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    if (tags.empty())
        return config_error({}, "the tag list after ':' is empty; drop the ':' to take every tag");
    return tags;
}

/// The position of the ':' that starts a tag list: the first one after the last '/', so the port colon of
/// `host:5000/repo` stays part of the host.
std::size_t tag_colon(std::string_view text) {
    const auto slash = text.rfind('/');
    return text.find(':', slash == std::string_view::npos ? 0 : slash + 1);
}

result<sync_source> source_from(std::string_view text) {
    text = trim(text);
    if (text.empty()) return config_error({}, "the source is empty");
    sync_source source;
    std::string_view repository = text;

    // A regex may contain '@', ':' and '/', so it is recognised first; no repository name contains ":/".
    if (const auto regex_start = text.find(":/"); regex_start != std::string_view::npos) {
        repository = text.substr(0, regex_start);
        auto pattern = text.substr(regex_start + 2);
        if (pattern.empty() || pattern.back() != '/')
            return config_error({}, "a tag regex must be written as :/REGEX/ (the closing '/' is missing)");
        pattern.remove_suffix(1);
        if (pattern.empty()) return config_error({}, "the tag regex is empty; drop ':/' to take every tag");
        const RE2 re(re2::StringPiece(pattern.data(), pattern.size()), RE2::Quiet);
        if (!re.ok()) return config_error({}, "invalid tag regex: " + re.error());
        source.selector = tag_selector::regex;
        source.regex = std::string(pattern);
    } else if (const auto at_sign = text.find('@'); at_sign != std::string_view::npos) {
        repository = text.substr(0, at_sign);
        auto parsed = digest::parse(text.substr(at_sign + 1));
        if (!parsed) return config_error({}, parsed.error().message);
        if (tag_colon(repository) != std::string_view::npos)
            return config_error({}, "a source takes tags or a digest, not both");
        source.selector = tag_selector::digest;
        source.digest = std::move(*parsed);
    } else if (const auto colon = tag_colon(text); colon != std::string_view::npos) {
        repository = text.substr(0, colon);
        auto tags = tag_list(text.substr(colon + 1));
        if (!tags) return tags.error();
        source.selector = tag_selector::listed;
        source.tags = std::move(*tags);
    }

    auto ref = repository_of(repository);
    if (!ref) return ref.error();
    source.registry = std::move(ref->registry);
    source.repository = std::move(ref->repository);
    return source;
}

result<sync_destination> destination_from(std::string_view text) {
    text = trim(text);
    if (text.empty()) return config_error({}, "the destination is empty");
    if (text.find('@') != std::string_view::npos)
        return config_error({}, "a destination takes tags, not a digest; the source's digest is kept");
    if (text.find(":/") != std::string_view::npos)
        return config_error({}, "a destination takes no tag regex");
    sync_destination destination;
    std::string_view repository = text;
    if (const auto colon = tag_colon(text); colon != std::string_view::npos) {
        repository = text.substr(0, colon);
        auto tags = tag_list(text.substr(colon + 1));
        if (!tags) return tags.error();
        destination.tags = std::move(*tags);
    }
    auto ref = repository_of(repository);
    if (!ref) return ref.error();
    destination.registry = std::move(ref->registry);
    destination.repository = std::move(ref->repository);
    return destination;
}

std::string plural(std::size_t n, std::string_view word) {
    return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

/// Whether `destination`'s tag list can be paired with `source`; the reason when not.
std::optional<std::string> tag_mismatch(const sync_source& source, const sync_destination& destination) {
    const auto m = destination.tags.size();
    if (m == 0) return std::nullopt;
    switch (source.selector) {
    case tag_selector::listed:
        if (m == source.tags.size()) return std::nullopt;
        return fmt::format("lists {} but the source lists {}; give the destination no tags (to keep the "
                           "source's) or exactly {}, one for each source tag in order",
                           plural(m, "tag"), plural(source.tags.size(), "tag"), source.tags.size());
    case tag_selector::digest:
        if (m == 1) return std::nullopt;
        return fmt::format("lists {} for a single digest; give it at most one tag", plural(m, "tag"));
    case tag_selector::all:
        return std::string(
            "has a tag, but the source takes every tag, so which one it names is ambiguous; drop "
            "the tag from the destination");
    case tag_selector::regex:
        return std::string(
            "has a tag, but the source takes every tag its regex matches, so which one it names "
            "is ambiguous; drop the tag from the destination");
    }
    return std::nullopt;
}

bool same_destination(const sync_destination& a, const sync_destination& b) {
    return a.registry == b.registry && a.repository == b.repository && a.tags == b.tags;
}

result<sync_rule> images_entry(const YAML::Node& key, const YAML::Node& value, std::string_view name,
                               const env_lookup& env) {
    const auto& written = key.Scalar();
    const auto where = at(name, key.Mark());
    auto source = source_from(written);
    if (!source)
        return config_error(where, fmt::format("{}: {}", in_quotes(written), source.error().message));

    sync_rule rule;
    rule.source = std::move(*source);
    rule.origin = where;

    // The destinations with the node each came from, for line numbers.
    std::vector<std::pair<std::string, YAML::Mark>> destinations;
    if (value.IsNull()) {
        destinations.emplace_back(std::string(), key.Mark());
    } else if (value.IsScalar()) {
        destinations.emplace_back(value.Scalar(), value.Mark());
    } else if (value.IsSequence()) {
        if (value.size() == 0)
            return config_error(where, fmt::format("source {} has no destinations", in_quotes(written)));
        for (const auto& element : value) {
            if (element.IsNull()) {
                destinations.emplace_back(std::string(),
                                          element.Mark().is_null() ? key.Mark() : element.Mark());
            } else if (element.IsScalar()) {
                destinations.emplace_back(element.Scalar(), element.Mark());
            } else {
                return config_error(at(name, element.Mark()),
                                    fmt::format("{}: a destination must be a string", in_quotes(written)));
            }
        }
    } else {
        return config_error(
            at(name, value.Mark()),
            fmt::format("{}: expected a destination or a list of destinations", in_quotes(written)));
    }

    for (const auto& [text, mark] : destinations) {
        const auto dest_where = at(name, mark);
        if (trim(text).empty())
            return config_error(dest_where,
                                fmt::format("source {} has an empty destination", in_quotes(written)));
        const auto what = fmt::format("{}: destination {}", in_quotes(written), in_quotes(text));
        auto expanded = expand_env(text, env, fmt::format("{}: {}", dest_where, what));
        if (!expanded) return expanded.error();
        // Show what the variables made of it, since that is what was parsed.
        const auto shown =
            *expanded == text ? what : fmt::format("{} (expanded to {})", what, in_quotes(*expanded));
        if (trim(*expanded).empty())
            return config_error(dest_where,
                                fmt::format("source {} has an empty destination", in_quotes(written)));
        auto destination = destination_from(*expanded);
        if (!destination)
            return config_error(dest_where, fmt::format("{}: {}", shown, destination.error().message));
        if (auto why = tag_mismatch(rule.source, *destination))
            return config_error(dest_where, fmt::format("{} {}", shown, *why));
        const bool duplicate =
            std::any_of(rule.destinations.begin(), rule.destinations.end(),
                        [&](const sync_destination& other) { return same_destination(other, *destination); });
        if (!duplicate) rule.destinations.push_back(std::move(*destination));
    }
    return rule;
}

result<std::vector<sync_rule>> images_from(const YAML::Node& root, std::string_view name,
                                           const env_lookup& env) {
    std::vector<sync_rule> rules;
    if (!root.IsDefined() || root.IsNull()) return rules;
    if (!root.IsMap())
        return config_error(at(name, root.Mark()),
                            "expected a map of source -> destination (or list of them)");
    if (auto keys = check_keys(root, name); !keys) return keys.error();
    for (const auto& entry : root) {
        auto rule = images_entry(entry.first, entry.second, name, env);
        if (!rule) return rule.error();
        rules.push_back(std::move(*rule));
    }
    return rules;
}

result<sync_config> config_from(const YAML::Node& root, std::string_view name, const env_lookup& env) {
    sync_config config;
    if (root.IsNull()) return config;
    if (!root.IsMap())
        return config_error(at(name, root.Mark()), "expected a map with \"auth\" and/or \"images\"");
    if (auto keys = check_keys(root, name); !keys) return keys.error();
    for (const auto& entry : root) {
        const auto& key = entry.first.Scalar();
        if (key == "auth") {
            auto auth = auth_from(entry.second, name, env);
            if (!auth) return auth.error();
            config.auth = std::move(*auth);
        } else if (key == "images") {
            auto images = images_from(entry.second, name, env);
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

/// Loads the document and hands it to `from`; yaml-cpp's own exceptions never escape.
template <class T, class From>
result<T> parse_with(std::string_view text, file_format format, std::string_view name, const env_lookup& env,
                     From from) {
    try {
        auto root = load_document(text, format, name);
        if (!root) return root.error();
        return from(*root, name, env);
    } catch (const YAML::Exception& e) {
        return config_error(at(name, e.mark), fmt::format("invalid {}: {}", format_name(format), e.msg));
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception& e) {
        return config_error(name, fmt::format("cannot parse: {}", e.what()));
    }
}

result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return config_error(path, fmt::format("cannot read: {}", std::strerror(errno)));
    std::string text;
    text.resize(static_cast<std::size_t>(max_config_size) + 1);
    in.read(text.data(), max_config_size + 1);
    if (in.bad()) return config_error(path, "read error");
    if (in.gcount() > max_config_size) return config_error(path, "larger than 16 MiB; not a config file");
    text.resize(static_cast<std::size_t>(in.gcount()));
    return text;
}

template <class T, class Parse>
result<T> load_with(const std::string& path, const env_lookup& env, Parse parse) {
    auto format = format_of(path);
    if (!format) return format.error();
    auto text = read_file(path);
    if (!text) return text.error();
    return parse(*text, *format, path, env);
}

// ---- rendering -------------------------------------------------------------------------------------------

std::string source_key(const reference& ref) {
    if (ref.digest) return ref.name() + "@" + ref.digest->str();
    if (!ref.tag.empty()) return ref.name() + ":" + ref.tag;
    return ref.name();
}

// A digest destination is written without it: parse_destination takes none, and a digest source keeps its
// digest when the destination has no tag.
std::string destination_text(const reference& ref) {
    return ref.tag.empty() ? ref.name() : ref.name() + ":" + ref.tag;
}

} // namespace

env_lookup process_environment() {
    return [](std::string_view name) -> std::optional<std::string> {
        const char* value = std::getenv(std::string(name).c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

result<std::string> expand_env(std::string_view text, const env_lookup& env, std::string_view where) {
    // Messages never quote `text`: it may be a password.
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const auto dollar = text.find('$', i);
        out.append(text.substr(i, dollar - i));
        if (dollar == std::string_view::npos) break;
        if (dollar + 1 == text.size())
            return config_error(where, "\"$\" at the end; write \"$$\" for a literal \"$\"");
        const char next = text[dollar + 1];
        std::string_view variable;
        if (next == '$') {
            out.push_back('$');
            i = dollar + 2;
            continue;
        }
        if (next == '{') {
            const auto close = text.find('}', dollar + 2);
            if (close == std::string_view::npos)
                return config_error(where,
                                    "\"${\" without a closing \"}\"; write \"$$\" for a literal \"$\"");
            variable = text.substr(dollar + 2, close - dollar - 2);
            if (!is_variable_name(variable))
                return config_error(where,
                                    "\"${...}\" must hold a variable name (letters, digits and '_', not "
                                    "starting with a digit)");
            i = close + 1;
        } else if (is_name_start(next)) {
            auto end = dollar + 1;
            while (end < text.size() && is_name_char(text[end]))
                ++end;
            variable = text.substr(dollar + 1, end - dollar - 1);
            i = end;
        } else {
            return config_error(where,
                                "\"$\" must be followed by a variable name, \"{NAME}\" or \"$\"; write "
                                "\"$$\" for a literal \"$\"");
        }
        auto value = env ? env(variable) : std::nullopt;
        if (!value)
            return config_error(where,
                                fmt::format("environment variable {} is not set", in_quotes(variable)));
        out += *value;
    }
    return out;
}

result<file_format> format_of(std::string_view path) {
    const auto slash = path.rfind('/');
    const auto base = path.substr(slash == std::string_view::npos ? 0 : slash + 1);
    const auto dot = base.rfind('.');
    if (dot != std::string_view::npos && dot > 0) {
        std::string extension(base.substr(dot));
        std::transform(extension.begin(), extension.end(), extension.begin(),
                       [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
        if (extension == ".json") return file_format::json;
        if (extension == ".yaml" || extension == ".yml") return file_format::yaml;
    }
    return config_error(path, "unknown extension, expected .json, .yaml or .yml");
}

result<std::vector<credential_rule>> parse_auth(std::string_view text, file_format format,
                                                std::string_view name, const env_lookup& env) {
    return parse_with<std::vector<credential_rule>>(text, format, name, env, auth_from);
}

result<std::vector<sync_rule>> parse_images(std::string_view text, file_format format, std::string_view name,
                                            const env_lookup& env) {
    return parse_with<std::vector<sync_rule>>(text, format, name, env, images_from);
}

result<sync_config> parse_config(std::string_view text, file_format format, std::string_view name,
                                 const env_lookup& env) {
    return parse_with<sync_config>(text, format, name, env, config_from);
}

result<std::vector<credential_rule>> load_auth_file(const std::string& path, const env_lookup& env) {
    return load_with<std::vector<credential_rule>>(path, env, parse_auth);
}

result<std::vector<sync_rule>> load_images_file(const std::string& path, const env_lookup& env) {
    return load_with<std::vector<sync_rule>>(path, env, parse_images);
}

result<sync_config> load_config_file(const std::string& path, const env_lookup& env) {
    return load_with<sync_config>(path, env, parse_config);
}

result<sync_source> parse_source(std::string_view text) {
    auto source = source_from(text);
    if (!source) return config_error(in_quotes(text), source.error().message);
    return source;
}

result<sync_destination> parse_destination(std::string_view text) {
    auto destination = destination_from(text);
    if (!destination) return config_error(in_quotes(text), destination.error().message);
    return destination;
}

std::string render_images(const std::vector<sync_item>& items, file_format format) {
    // Sources in first-seen order, each with its destinations once.
    std::vector<std::pair<std::string, std::vector<std::string>>> groups;
    for (const auto& item : items) {
        const auto key = source_key(item.source);
        auto group =
            std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == key; });
        if (group == groups.end()) group = groups.insert(groups.end(), {key, {}});
        auto destination = destination_text(item.destination);
        if (std::find(group->second.begin(), group->second.end(), destination) == group->second.end())
            group->second.push_back(std::move(destination));
    }

    if (format == file_format::json) {
        auto out = nlohmann::ordered_json::object();
        for (const auto& [source, destinations] : groups)
            out[source] = destinations;
        return out.dump(2) + "\n";
    }
    if (groups.empty()) return "{}\n";
    YAML::Emitter out;
    out << YAML::BeginMap;
    for (const auto& [source, destinations] : groups) {
        out << YAML::Key << YAML::DoubleQuoted << source << YAML::Value << YAML::BeginSeq;
        for (const auto& destination : destinations)
            out << YAML::DoubleQuoted << destination;
        out << YAML::EndSeq;
    }
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

} // namespace syncer
