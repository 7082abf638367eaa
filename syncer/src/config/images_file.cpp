// The images file (`--images`, or `images:` in `--config`): source -> destination(s), and the source and
// destination syntax.
#include "config/document.hpp"

#include "text.hpp"

#include <libregistry/core/platform.hpp>
#include <libregistry/core/reference.hpp>
#include <libregistry/core/tag_version.hpp>
#include <libregistry/core/transport.hpp>
#include <libregistry/sync/referrer_policy.hpp>
#include <libregistry/sync/tag_policy.hpp>

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

namespace syncer {

using namespace libregistry;

namespace detail {

namespace {

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

/// `oci:DIR:REST`, `oci-archive:FILE:REST`, `docker-archive:FILE:REST`: the storage registry name and REST
/// (empty without it); nullopt for a registry. The path ends at the first ':', as in image arguments.
struct storage_text {
    std::string registry;
    std::string_view rest;
};
result<std::optional<storage_text>> split_storage(std::string_view text) {
    for (const std::string_view prefix : {"oci:", "oci-archive:", "docker-archive:"}) {
        if (!text.starts_with(prefix)) continue;
        const auto path_and_rest = text.substr(prefix.size());
        const auto colon = path_and_rest.find(':');
        const auto path = path_and_rest.substr(0, colon);
        if (path.empty())
            return config_error({}, fmt::format("{} needs a path: {}PATH[:REPOSITORY...]", prefix, prefix));
        storage_text out;
        out.registry = fmt::format("{}{}", prefix, path);
        if (colon != std::string_view::npos) {
            out.rest = path_and_rest.substr(colon + 1);
            if (out.rest.empty())
                return config_error({}, "the repository after the path is empty; drop the ':'");
        }
        return std::optional<storage_text>(std::move(out));
    }
    return std::optional<storage_text>();
}

result<sync_source> registry_source_from(std::string_view text);
result<sync_destination> registry_destination_from(std::string_view text);

// In a layout or archive the repository is the path as written (a bundle names images `library/alpine:3.19`),
// with no host: it is parsed behind a placeholder host, so Docker Hub's `library/` is not added.
constexpr std::string_view storage_placeholder_host = "localhost/";

result<sync_source> source_from(std::string_view text) {
    text = trim(text);
    auto storage = split_storage(text);
    if (!storage) return storage.error();
    if (!*storage) return registry_source_from(text);
    if ((*storage)->rest.empty())
        return config_error({}, fmt::format("a layout or archive source names its repository: {}:REPOSITORY"
                                            "[:TAGS|@DIGEST|:/REGEX/]",
                                            (*storage)->registry));
    auto source = registry_source_from(fmt::format("{}{}", storage_placeholder_host, (*storage)->rest));
    if (!source) return source.error();
    source->registry = std::move((*storage)->registry);
    return source;
}

result<sync_destination> destination_from(std::string_view text) {
    text = trim(text);
    auto storage = split_storage(text);
    if (!storage) return storage.error();
    if (!*storage) return registry_destination_from(text);
    sync_destination destination;
    if (!(*storage)->rest.empty()) {
        auto parsed =
            registry_destination_from(fmt::format("{}{}", storage_placeholder_host, (*storage)->rest));
        if (!parsed) return parsed.error();
        destination = std::move(*parsed);
    }
    // No repository: each image keeps its source repository (filled in by the caller).
    destination.registry = std::move((*storage)->registry);
    return destination;
}

result<sync_source> registry_source_from(std::string_view text) {
    text = trim(text);
    if (text.empty()) return config_error({}, "the source is empty");
    if (auto why = transport_problem(text)) return config_error({}, *why);
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

result<sync_destination> registry_destination_from(std::string_view text) {
    text = trim(text);
    if (text.empty()) return config_error({}, "the destination is empty");
    if (auto why = transport_problem(text)) return config_error({}, *why);
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

/// Whether `destination`'s tag list can be paired with `source`; the reason when not.
std::optional<std::string> tag_mismatch(const sync_source& source, const sync_destination& destination) {
    const auto m = destination.tags.size();
    if (m == 0) return std::nullopt;
    switch (source.selector) {
    case tag_selector::listed:
        if (m == source.tags.size()) return std::nullopt;
        return fmt::format("lists {} but the source lists {}; give the destination no tags (to keep the "
                           "source's) or exactly {}, one for each source tag in order",
                           plural(m, "tag", "tags"), plural(source.tags.size(), "tag", "tags"),
                           source.tags.size());
    case tag_selector::digest:
        if (m == 1) return std::nullopt;
        return fmt::format("lists {} for a single digest; give it at most one tag", plural(m, "tag", "tags"));
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

using marked_texts = std::vector<std::pair<std::string, YAML::Mark>>;

/// A destination or a list of them, with the node each came from, for line numbers.
result<marked_texts> destination_nodes(const YAML::Node& key, const YAML::Node& value,
                                       const document_source& doc, std::string_view written) {
    const auto name = doc.name;
    marked_texts destinations;
    if (value.IsNull()) {
        destinations.emplace_back(std::string(), key.Mark());
    } else if (json_non_string(value, doc.format)) {
        return config_error(at(name, value.Mark()), fmt::format("{}: a destination must be a string{}",
                                                                in_quotes(written), quote_it));
    } else if (value.IsScalar()) {
        destinations.emplace_back(value.Scalar(), value.Mark());
    } else if (value.IsSequence()) {
        if (value.size() == 0)
            return config_error(at(name, key.Mark()),
                                fmt::format("source {} has no destinations", in_quotes(written)));
        for (const auto& element : value) {
            if (element.IsNull()) {
                destinations.emplace_back(std::string(),
                                          element.Mark().is_null() ? key.Mark() : element.Mark());
            } else if (element.IsScalar() && !json_non_string(element, doc.format)) {
                destinations.emplace_back(element.Scalar(), element.Mark());
            } else {
                return config_error(at(name, element.Mark()),
                                    fmt::format("{}: a destination must be a string{}", in_quotes(written),
                                                element.IsScalar() ? quote_it : ""));
            }
        }
    } else {
        return config_error(
            at(name, value.Mark()),
            fmt::format("{}: expected a destination or a list of destinations", in_quotes(written)));
    }
    return destinations;
}

/// A string or a list of strings (never empty).
std::optional<std::vector<std::string>> string_list(const YAML::Node& value, file_format format) {
    std::vector<std::string> out;
    const auto one = [&](const YAML::Node& node) {
        if (!node.IsScalar() || json_non_string(node, format) || node.Scalar().empty()) return false;
        out.push_back(node.Scalar());
        return true;
    };
    if (value.IsSequence()) {
        for (const auto& element : value)
            if (!one(element)) return std::nullopt;
    } else if (!one(value)) {
        return std::nullopt;
    }
    if (out.empty()) return std::nullopt;
    return out;
}

/// `referrers: true|false`, or `referrers: {include: ..., exclude: ..., depth: N}` (a map carries them, with
/// the defaults for the keys it leaves out). `prefix` is `"rule": "referrers"`, for messages.
result<referrer_policy> referrers_value(const YAML::Node& key, const YAML::Node& v,
                                        const document_source& doc, std::string_view prefix) {
    const auto name = doc.name;
    referrer_policy policy;
    if (!v.IsMap()) {
        const auto flag = plain_bool(v);
        if (!flag)
            return config_error(at(name, value_mark(key, v)),
                                fmt::format("{} must be true, false, or a map with include, exclude and/or "
                                            "depth",
                                            prefix));
        policy.enabled = *flag;
        return policy;
    }
    if (auto keys = check_keys(v, name); !keys) return keys.error();
    for (const auto& entry : v) {
        const auto& field = entry.first.Scalar();
        const auto& value = entry.second;
        const auto where = at(name, value_mark(entry.first, value));
        const auto what = fmt::format("{}: {}", prefix, in_quotes(field));
        if (field == "include" || field == "exclude") {
            auto list = string_list(value, doc.format);
            if (!list)
                return config_error(where,
                                    fmt::format("{} must be an artifact type, a /regex/, or a non-empty "
                                                "list of them (strings)",
                                                what));
            referrer_policy alone;
            alone.include_types = *list;
            if (auto ok = check_referrer_policy(alone, fmt::format("{}: {}", where, what)); !ok)
                return ok.error();
            (field == "include" ? policy.include_types : policy.exclude_types) = std::move(*list);
        } else if (field == "depth") {
            const auto text = value.IsScalar() ? value.Scalar() : std::string();
            int n = 0;
            const auto parsed = std::from_chars(text.data(), text.data() + text.size(), n);
            if (text.empty() || parsed.ptr != text.data() + text.size() || parsed.ec != std::errc{} ||
                n < 1 || n > max_referrers_depth)
                return config_error(where, fmt::format("{} must be a whole number from 1 to {}: how deep "
                                                       "referrers of referrers are followed (1: only the "
                                                       "image's own)",
                                                       what, max_referrers_depth));
            policy.max_depth = n;
        } else {
            return config_error(at(name, entry.first.Mark()),
                                fmt::format("{}: unknown key {} (expected include, exclude or depth)", prefix,
                                            in_quotes(field)));
        }
    }
    return policy;
}

/// The mapping form of a rule's value: destinations plus the rule's tag policy, platforms and switches.
result<void> rule_options(const YAML::Node& key, const YAML::Node& map, const document_source& doc,
                          sync_rule& rule, marked_texts& destinations) {
    const auto name = doc.name;
    const auto& written = key.Scalar();
    if (auto keys = check_keys(map, name); !keys) return keys.error();
    bool have_destinations = false;
    // Where the keys that select among listed tags were written, to blame them for a source without a list.
    std::vector<std::pair<std::string, YAML::Mark>> selecting;
    std::optional<YAML::Mark> prune_mark;
    for (const auto& entry : map) {
        const auto& field = entry.first.Scalar();
        const auto& v = entry.second;
        const auto field_where = at(name, value_mark(entry.first, v));
        const auto bad = [&](std::string_view why) {
            // A reason from a parser follows a colon, one of ours a space.
            return config_error(field_where, fmt::format("{}: {}{}{}", in_quotes(written), in_quotes(field),
                                                         why.starts_with(':') ? "" : " ", why));
        };
        if (field == "destinations" || field == "destination") {
            if (have_destinations)
                return config_error(at(name, entry.first.Mark()),
                                    fmt::format("{}: give \"destinations\" or \"destination\", not both",
                                                in_quotes(written)));
            have_destinations = true;
            auto found = destination_nodes(entry.first, v, doc, written);
            if (!found) return found.error();
            destinations = std::move(*found);
        } else if (field == "include" || field == "exclude") {
            auto list = string_list(v, doc.format);
            if (!list) return bad("must be a tag, a /regex/, or a non-empty list of them (strings)");
            tag_policy alone;
            (field == "include" ? alone.include : alone.exclude) = *list;
            if (auto ok = check_tag_policy(alone); !ok) return bad(fmt::format(": {}", ok.error().message));
            (field == "include" ? rule.policy.include : rule.policy.exclude) = std::move(*list);
            selecting.emplace_back(field, entry.first.Mark());
        } else if (field == "semver") {
            if (!v.IsScalar() || json_non_string(v, doc.format) || v.Scalar().empty())
                return bad("must be a semver range such as \">=1.4 <2\"");
            if (auto range = parse_semver_range(v.Scalar()); !range)
                return bad(fmt::format(": {}", range.error().message));
            rule.policy.semver = v.Scalar();
            selecting.emplace_back(field, entry.first.Mark());
        } else if (field == "latest") {
            const auto text = v.IsScalar() ? v.Scalar() : std::string();
            std::size_t n = 0;
            const auto parsed = std::from_chars(text.data(), text.data() + text.size(), n);
            if (text.empty() || parsed.ptr != text.data() + text.size() || parsed.ec != std::errc{} ||
                n == 0 || n > 1000000)
                return bad("must be a whole number from 1 to 1000000: how many of the newest tags to keep");
            rule.policy.latest = n;
            selecting.emplace_back(field, entry.first.Mark());
        } else if (field == "platforms") {
            auto list = string_list(v, doc.format);
            if (!list) return bad("must be OS/ARCH[/VARIANT] or a non-empty list of them (strings)");
            for (const auto& text : *list) {
                auto p = parse_platform(text);
                if (!p) return bad(fmt::format(": {}", p.error().message));
                rule.platforms.push_back(std::move(*p));
            }
        } else if (field == "referrers") {
            auto policy = referrers_value(entry.first, v, doc,
                                          fmt::format("{}: {}", in_quotes(written), in_quotes(field)));
            if (!policy) return policy.error();
            rule.referrers = std::move(*policy);
        } else if (field == "prune") {
            const auto flag = plain_bool(v);
            if (!flag) return bad("must be true or false");
            rule.prune = *flag;
            prune_mark = entry.first.Mark();
        } else {
            return config_error(at(name, entry.first.Mark()),
                                fmt::format("{}: unknown key {} (expected destinations, include, exclude, "
                                            "semver, latest, platforms, prune or referrers)",
                                            in_quotes(written), in_quotes(field)));
        }
    }
    if (!have_destinations)
        return config_error(at(name, key.Mark()),
                            fmt::format("{}: no \"destinations\"; a rule written as a map needs "
                                        "destinations: [REPOSITORY, ...]",
                                        in_quotes(written)));
    const auto selector = rule.source.selector;
    if ((selector == tag_selector::listed || selector == tag_selector::digest) && !selecting.empty())
        return config_error(
            at(name, selecting.front().second),
            fmt::format(
                "{}: {} selects among the tags a repository lists, but this source names {}; write the "
                "source without {} (REPOSITORY or REPOSITORY:/REGEX/) to select with a policy",
                in_quotes(written), in_quotes(selecting.front().first),
                selector == tag_selector::digest ? "a digest" : "its tags",
                selector == tag_selector::digest ? "the digest" : "the tag list"));
    if (selector == tag_selector::digest && rule.prune)
        return config_error(at(name, *prune_mark),
                            fmt::format("{}: \"prune\" needs a source that selects tags; a digest source "
                                        "writes one image, and leaves nothing to prune",
                                        in_quotes(written)));
    return {};
}

result<sync_rule> images_entry(const YAML::Node& key, const YAML::Node& value, const document_source& doc,
                               const env_lookup& env) {
    const auto name = doc.name;
    const auto& written = key.Scalar();
    const auto where = at(name, key.Mark());
    auto source = source_from(written);
    if (!source)
        return config_error(where, fmt::format("{}: {}", in_quotes(written), source.error().message));

    sync_rule rule;
    rule.source = std::move(*source);
    rule.origin = where;

    marked_texts destinations;
    if (value.IsMap()) {
        if (auto options = rule_options(key, value, doc, rule, destinations); !options)
            return options.error();
    } else {
        auto found = destination_nodes(key, value, doc, written);
        if (!found) return found.error();
        destinations = std::move(*found);
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
        // A bundle destination without a repository names each image by its source repository.
        if (destination->repository.empty()) destination->repository = rule.source.repository;
        if (auto why = tag_mismatch(rule.source, *destination))
            return config_error(dest_where, fmt::format("{} {}", shown, *why));
        const bool duplicate =
            std::any_of(rule.destinations.begin(), rule.destinations.end(),
                        [&](const sync_destination& other) { return same_destination(other, *destination); });
        if (!duplicate) rule.destinations.push_back(std::move(*destination));
    }
    return rule;
}

} // namespace

result<std::vector<sync_rule>> images_from(const YAML::Node& root, const document_source& doc,
                                           const env_lookup& env) {
    const auto name = doc.name;
    std::vector<sync_rule> rules;
    if (!root.IsDefined() || root.IsNull()) return rules;
    if (!root.IsMap())
        return config_error(at(name, root.Mark()),
                            "expected a map of source -> destination (or list of them)");
    if (auto keys = check_keys(root, name); !keys) return keys.error();
    for (const auto& entry : root) {
        auto rule = images_entry(entry.first, entry.second, doc, env);
        if (!rule) return rule.error();
        rules.push_back(std::move(*rule));
    }
    return rules;
}

} // namespace detail

result<std::vector<sync_rule>> parse_images(std::string_view text, file_format format, std::string_view name,
                                            const env_lookup& env) {
    return detail::parse_with<std::vector<sync_rule>>(text, format, name, env, detail::images_from);
}

result<std::vector<sync_rule>> load_images_file(const std::string& path, const env_lookup& env) {
    return detail::load_with<std::vector<sync_rule>>(path, env, parse_images);
}

result<sync_source> parse_source(std::string_view text) {
    auto source = detail::source_from(text);
    if (!source) return detail::config_error(detail::in_quotes(text), source.error().message);
    return source;
}

result<sync_destination> parse_destination(std::string_view text) {
    auto destination = detail::destination_from(text);
    if (!destination) return detail::config_error(detail::in_quotes(text), destination.error().message);
    return destination;
}

} // namespace syncer
