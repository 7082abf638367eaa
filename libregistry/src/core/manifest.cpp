#include "libregistry/core/manifest.hpp"

#include "core/detail/quote.hpp"

#include "core/detail/base64.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <unordered_set>
#include <utility>

namespace libregistry {
namespace {

using json = nlohmann::json;

/// A failure at a JSON path, turned into `invalid manifest: <path>: <why>` by the caller.
struct problem {
    // A constructor, not an aggregate: result<std::string, problem> must not see a string as a problem.
    problem() = default;
    problem(std::string p, std::string w) : path(std::move(p)), why(std::move(w)) {}
    std::string path;
    std::string why;
};

template <class T>
using checked = boost::system::result<T, problem>;

using detail::in_quotes;

std::string join(std::string_view parent, std::string_view key) {
    return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
}

std::string_view type_name(const json& j) {
    if (j.is_number_integer()) return "an integer";
    if (j.is_number_float()) return "a floating-point number";
    if (j.is_string()) return "a string";
    if (j.is_object()) return "an object";
    if (j.is_array()) return "an array";
    if (j.is_boolean()) return "a boolean";
    if (j.is_null()) return "null";
    return "an unexpected value";
}

/// An optional string member: absent gives "", present must be a string.
checked<std::string> optional_string(const json& object, std::string_view key, std::string_view parent) {
    const auto it = object.find(key);
    if (it == object.end()) return std::string{};
    if (!it->is_string())
        return problem{join(parent, key), "expected a string, got " + std::string(type_name(*it))};
    return it->get<std::string>();
}

checked<std::string> required_string(const json& object, std::string_view key, std::string_view parent) {
    if (!object.contains(key)) return problem{join(parent, key), "missing"};
    return optional_string(object, key, parent);
}

/// An optional `annotations` member: an object whose values are all strings.
checked<std::map<std::string, std::string>> optional_annotations(const json& object,
                                                                 std::string_view parent) {
    std::map<std::string, std::string> out;
    const auto it = object.find("annotations");
    if (it == object.end() || it->is_null()) return out;
    const auto path = join(parent, "annotations");
    if (!it->is_object()) return problem{path, "expected an object, got " + std::string(type_name(*it))};
    for (const auto& [key, value] : it->items()) {
        if (!value.is_string())
            return problem{path + "." + key, "expected a string, got " + std::string(type_name(value))};
        out.emplace(key, value.get<std::string>());
    }
    return out;
}

checked<platform> parse_platform_object(const json& j, const std::string& path) {
    if (!j.is_object()) return problem{path, "expected an object, got " + std::string(type_name(j))};
    platform p;
    auto os = required_string(j, "os", path);
    if (!os) return os.error();
    auto architecture = required_string(j, "architecture", path);
    if (!architecture) return architecture.error();
    auto variant = optional_string(j, "variant", path);
    if (!variant) return variant.error();
    auto os_version = optional_string(j, "os.version", path);
    if (!os_version) return os_version.error();
    p.os = std::move(*os);
    p.architecture = std::move(*architecture);
    p.variant = std::move(*variant);
    p.os_version = std::move(*os_version);
    return p;
}

/// image-spec "Descriptor Properties": mediaType, digest and size are required; size is a non-negative int64.
checked<descriptor> parse_descriptor(const json& j, const std::string& path) {
    if (!j.is_object()) return problem{path, "expected an object, got " + std::string(type_name(j))};
    descriptor d;
    auto media_type = required_string(j, "mediaType", path);
    if (!media_type) return media_type.error();
    d.media_type = std::move(*media_type);

    auto digest_text = required_string(j, "digest", path);
    if (!digest_text) return digest_text.error();
    auto parsed = digest::parse(*digest_text);
    if (!parsed) return problem{join(path, "digest"), parsed.error().message};
    d.digest = std::move(*parsed);

    const auto size = j.find("size");
    if (size == j.end()) return problem{join(path, "size"), "missing"};
    if (size->is_number_unsigned()) {
        if (size->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            return problem{join(path, "size"), "larger than a 64-bit signed integer"};
        d.size = static_cast<std::int64_t>(size->get<std::uint64_t>());
    } else if (size->is_number_integer()) {
        return problem{join(path, "size"), "negative (" + size->dump() + ")"};
    } else {
        return problem{join(path, "size"),
                       "expected a non-negative integer, got " + std::string(type_name(*size))};
    }

    if (const auto p = j.find("platform"); p != j.end()) {
        auto parsed_platform = parse_platform_object(*p, join(path, "platform"));
        if (!parsed_platform) return parsed_platform.error();
        d.platform = std::move(*parsed_platform);
    }
    auto artifact_type = optional_string(j, "artifactType", path);
    if (!artifact_type) return artifact_type.error();
    d.artifact_type = std::move(*artifact_type);

    if (const auto urls = j.find("urls"); urls != j.end()) {
        if (!urls->is_array())
            return problem{join(path, "urls"), "expected an array, got " + std::string(type_name(*urls))};
        for (std::size_t i = 0; i < urls->size(); ++i) {
            const auto& url = (*urls)[i];
            if (!url.is_string())
                return problem{join(path, "urls") + "[" + std::to_string(i) + "]",
                               "expected a string, got " + std::string(type_name(url))};
            d.urls.push_back(url.get<std::string>());
        }
    }
    auto annotations = optional_annotations(j, path);
    if (!annotations) return annotations.error();
    d.annotations = std::move(*annotations);
    return d;
}

checked<std::vector<descriptor>> parse_descriptor_array(const json& object, std::string_view key) {
    const auto it = object.find(key);
    if (it == object.end()) return problem{std::string(key), "missing"};
    if (!it->is_array())
        return problem{std::string(key), "expected an array, got " + std::string(type_name(*it))};
    std::vector<descriptor> out;
    out.reserve(it->size());
    for (std::size_t i = 0; i < it->size(); ++i) {
        auto d = parse_descriptor((*it)[i], std::string(key) + "[" + std::to_string(i) + "]");
        if (!d) return d.error();
        out.push_back(std::move(*d));
    }
    return out;
}

/// The media type to classify by: the body's own `mediaType` wins; then a specific Content-Type; then the
/// fields present, since image-spec 1.0 left `mediaType` optional and schema 1 never had one.
checked<std::string> determine_media_type(const json& body, std::string_view content_type) {
    auto from_body = optional_string(body, "mediaType", "");
    if (!from_body) return from_body.error();
    if (!from_body->empty()) return std::move(*from_body);

    // Some registries answer a generic `application/json` or `text/plain`; those say nothing, so infer.
    const auto header = media_type_essence(content_type);
    if (kind_of(header) != manifest_kind::unknown) return std::string(header);

    if (body.contains("manifests")) return std::string(media_types::oci_index);
    if (body.contains("config") && body.contains("layers")) return std::string(media_types::oci_manifest);
    const auto version = body.find("schemaVersion");
    if (body.contains("fsLayers") || (version != body.end() && *version == 1))
        return std::string(body.contains("signatures") ? media_types::docker_schema1_signed
                                                       : media_types::docker_schema1);
    return std::string{};
}

/// base64url without padding (RFC 7515), as JWS writes it.
std::optional<std::string> decode_base64url(std::string_view text) {
    std::string standard(text);
    std::replace(standard.begin(), standard.end(), '-', '+');
    std::replace(standard.begin(), standard.end(), '_', '/');
    standard.append((4 - standard.size() % 4) % 4, '=');
    return detail::decode_base64(standard);
}

/// A signed schema 1 manifest is identified by its payload: the bytes without the `signatures` member. Each
/// signature's protected header (libtrust's "pretty" JWS) says how to cut it out: the first `formatLength`
/// bytes, followed by the base64url `formatTail` (usually the closing `}`). Registries name the manifest by
/// the digest of that payload, so `inspect` and `digest` agree only if syncer does too.
checked<std::string> schema1_payload(std::string_view bytes, const json& signatures) {
    if (!signatures.is_array())
        return problem{"signatures", "expected an array, got " + std::string(type_name(signatures))};
    if (signatures.empty()) return problem{"signatures", "empty"};
    std::optional<std::string> payload;
    for (std::size_t i = 0; i < signatures.size(); ++i) {
        const auto path = "signatures[" + std::to_string(i) + "]";
        const auto& signature = signatures[i];
        if (!signature.is_object())
            return problem{path, "expected an object, got " + std::string(type_name(signature))};
        auto encoded = required_string(signature, "protected", path);
        if (!encoded) return encoded.error();
        const auto decoded = decode_base64url(*encoded);
        const auto header = decoded ? json::parse(*decoded, nullptr, false) : json();
        if (!header.is_object()) return problem{path + ".protected", "not a base64url JSON object"};
        const auto length = header.find("formatLength");
        const auto tail = header.find("formatTail");
        if (length == header.end() || !length->is_number_integer() || tail == header.end() ||
            !tail->is_string())
            return problem{path + ".protected", "has no formatLength and formatTail"};
        const auto n = length->get<std::int64_t>();
        const auto tail_bytes = decode_base64url(tail->get<std::string>());
        if (n <= 0 || static_cast<std::uint64_t>(n) > bytes.size() || !tail_bytes)
            return problem{path + ".protected", "formatLength or formatTail does not fit the manifest"};
        auto candidate = std::string(bytes.substr(0, static_cast<std::size_t>(n))) + *tail_bytes;
        if (payload && *payload != candidate)
            return problem{path + ".protected", "describes another payload than signatures[0]"};
        payload = std::move(candidate);
    }
    return std::move(*payload);
}

checked<manifest> parse_body(manifest m, const json& body) {
    if (const auto version = body.find("schemaVersion"); version != body.end()) {
        if (!version->is_number_integer())
            return problem{"schemaVersion", "expected an integer, got " + std::string(type_name(*version))};
        const auto expected = m.kind == manifest_kind::schema1 ? 1 : 2;
        if (*version != expected)
            return problem{"schemaVersion", "expected " + std::to_string(expected) + " for " + m.media_type +
                                                ", got " + version->dump()};
    }

    switch (m.kind) {
    case manifest_kind::image: {
        const auto config = body.find("config");
        if (config == body.end()) return problem{"config", "missing"};
        auto parsed_config = parse_descriptor(*config, "config");
        if (!parsed_config) return parsed_config.error();
        m.config = std::move(*parsed_config);
        auto layers = parse_descriptor_array(body, "layers");
        if (!layers) return layers.error();
        m.layers = std::move(*layers);
        break;
    }
    case manifest_kind::index: {
        auto entries = parse_descriptor_array(body, "manifests");
        if (!entries) return entries.error();
        m.manifests = std::move(*entries);
        break;
    }
    case manifest_kind::schema1: {
        const auto fs_layers = body.find("fsLayers");
        if (fs_layers == body.end()) return problem{"fsLayers", "missing"};
        if (!fs_layers->is_array())
            return problem{"fsLayers", "expected an array, got " + std::string(type_name(*fs_layers))};
        // Schema 1 lists one fsLayer per history entry, so empty layers repeat the same blobSum.
        std::unordered_set<digest> seen;
        for (std::size_t i = 0; i < fs_layers->size(); ++i) {
            const auto path = "fsLayers[" + std::to_string(i) + "]";
            const auto& entry = (*fs_layers)[i];
            if (!entry.is_object())
                return problem{path, "expected an object, got " + std::string(type_name(entry))};
            auto blob_sum = required_string(entry, "blobSum", path);
            if (!blob_sum) return blob_sum.error();
            auto parsed = digest::parse(*blob_sum);
            if (!parsed) return problem{path + ".blobSum", parsed.error().message};
            if (!seen.insert(*parsed).second) continue;
            descriptor d;
            d.media_type = "application/octet-stream";
            d.digest = std::move(*parsed);
            m.layers.push_back(std::move(d));
        }
        break;
    }
    case manifest_kind::unknown:
        break;
    }

    if (const auto subject = body.find("subject");
        subject != body.end() && m.kind != manifest_kind::schema1) {
        auto parsed = parse_descriptor(*subject, "subject");
        if (!parsed) return parsed.error();
        m.subject = std::move(*parsed);
    }
    auto artifact_type = optional_string(body, "artifactType", "");
    if (!artifact_type) return artifact_type.error();
    m.artifact_type = std::move(*artifact_type);
    if (m.kind != manifest_kind::schema1) {
        auto annotations = optional_annotations(body, "");
        if (!annotations) return annotations.error();
        m.annotations = std::move(*annotations);
    }
    return m;
}

} // namespace

std::vector<descriptor> manifest::blobs() const {
    std::vector<descriptor> out;
    std::unordered_set<libregistry::digest> seen;
    const auto add = [&](const descriptor& d) {
        if (is_foreign_layer(d.media_type) || !seen.insert(d.digest).second) return;
        out.push_back(d);
    };
    if (config) add(*config);
    for (const auto& layer : layers)
        add(layer);
    return out;
}

descriptor manifest::as_descriptor() const {
    descriptor d;
    d.media_type = media_type;
    d.digest = digest;
    d.size = static_cast<std::int64_t>(bytes.size());
    d.artifact_type = artifact_type;
    return d;
}

result<manifest> parse_manifest(std::string bytes, std::string_view content_type) {
    if (bytes.size() > max_manifest_size)
        return make_error(errc::too_large, "manifest is " + std::to_string(bytes.size()) +
                                               " bytes, over the limit of " +
                                               std::to_string(max_manifest_size) + " bytes");
    json body;
    try {
        body = json::parse(bytes);
    } catch (const json::parse_error& e) {
        std::string_view what = e.what();
        // Drop nlohmann's "[json.exception.parse_error.101] " tag; the byte offset is what helps.
        if (const auto tag_end = what.find("] "); tag_end != std::string_view::npos)
            what.remove_prefix(tag_end + 2);
        return make_error(errc::invalid_manifest, "invalid manifest: not valid JSON at byte " +
                                                      std::to_string(e.byte) + ": " + std::string(what));
    } catch (const json::exception& e) {
        // Not a syntax error but a value the parser cannot hold, such as a number beyond a double (1e999).
        std::string_view what = e.what();
        if (const auto tag_end = what.find("] "); tag_end != std::string_view::npos)
            what.remove_prefix(tag_end + 2);
        return make_error(errc::invalid_manifest, "invalid manifest: " + std::string(what));
    }
    if (!body.is_object())
        return make_error(errc::invalid_manifest,
                          "invalid manifest: expected a JSON object, got " + std::string(type_name(body)));

    auto media_type = determine_media_type(body, content_type);
    if (!media_type)
        return make_error(errc::invalid_manifest,
                          "invalid manifest: " + media_type.error().path + ": " + media_type.error().why);
    if (media_type->empty())
        return make_error(
            errc::unsupported_media_type,
            "unsupported manifest: no mediaType in the body" +
                (content_type.empty() ? std::string{} : ", Content-Type " + in_quotes(content_type)) +
                ", and none of manifests, config+layers or fsLayers present");
    const auto kind = kind_of(*media_type);
    if (kind == manifest_kind::unknown)
        return make_error(errc::unsupported_media_type,
                          "unsupported manifest media type " + in_quotes(*media_type) +
                              " (expected an OCI or Docker image manifest or index, or Docker schema 1)");

    manifest m;
    m.media_type = std::move(*media_type);
    m.kind = kind;
    m.digest = digest_of(bytes);
    if (const auto signatures = body.find("signatures");
        kind == manifest_kind::schema1 && signatures != body.end()) {
        auto payload = schema1_payload(bytes, *signatures);
        if (!payload)
            return make_error(errc::invalid_manifest,
                              "invalid manifest: " + payload.error().path + ": " + payload.error().why);
        m.digest = digest_of(*payload);
    }
    m.bytes = std::move(bytes);
    auto parsed = parse_body(std::move(m), body);
    if (!parsed)
        return make_error(errc::invalid_manifest,
                          "invalid manifest: " + parsed.error().path + ": " + parsed.error().why);
    return std::move(*parsed);
}

std::vector<descriptor> nested_indexes(const manifest& index, const std::vector<platform>& platforms) {
    std::vector<descriptor> out;
    std::unordered_set<libregistry::digest> seen;
    for (const auto& entry : index.manifests) {
        if (kind_of(entry.media_type) != manifest_kind::index) continue;
        if (entry.platform && !platform_matches_any(platforms, *entry.platform)) continue;
        if (seen.insert(entry.digest).second) out.push_back(entry);
    }
    return out;
}

result<platform_selection> select_platforms(const manifest& index, const std::vector<platform>& platforms,
                                            const std::map<digest, platform_selection>& nested) {
    if (index.kind != manifest_kind::index)
        return make_error(errc::invalid_argument, "cannot filter " + index.digest.str() +
                                                      " by platform: it is " + in_quotes(index.media_type) +
                                                      ", not an index");
    if (platforms.empty())
        return make_error(errc::invalid_argument,
                          "cannot filter index " + index.digest.str() + ": no platforms given");

    platform_selection out;
    const auto note = [&](const std::string& name) {
        if (std::find(out.available.begin(), out.available.end(), name) == out.available.end())
            out.available.push_back(name);
    };
    // What becomes of each entry: dropped (nullopt), kept, or kept pointing at a filtered nested index.
    std::vector<std::optional<const manifest*>> fate(index.manifests.size());
    bool changed = false;
    for (std::size_t i = 0; i < index.manifests.size(); ++i) {
        const auto& entry = index.manifests[i];
        if (entry.platform) note(entry.platform->str());
        if (const auto inner = nested.find(entry.digest); inner != nested.end()) {
            for (const auto& name : inner->second.available)
                note(name);
            if (inner->second.index) {
                fate[i] = &*inner->second.index;
                changed = changed || inner->second.index->digest != entry.digest;
                continue;
            }
        } else if (entry.platform && platform_matches_any(platforms, *entry.platform)) {
            fate[i] = nullptr;
            continue;
        }
        changed = true;
    }
    if (std::none_of(fate.begin(), fate.end(), [](const auto& f) { return f.has_value(); })) return out;
    if (!changed) {
        out.index = index;
        return out;
    }

    // ordered_json keeps every object's keys in their original order, so kept entries read as they did.
    auto body = nlohmann::ordered_json::parse(index.bytes);
    auto& entries = body.at("manifests");
    auto kept = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < fate.size(); ++i) {
        if (!fate[i]) continue;
        auto entry = entries.at(i);
        if (const auto* filtered = *fate[i]; filtered && filtered->digest != index.manifests[i].digest) {
            entry["digest"] = filtered->digest.str();
            entry["size"] = filtered->bytes.size();
        }
        kept.push_back(std::move(entry));
    }
    entries = std::move(kept);
    auto rewritten = parse_manifest(body.dump(), index.media_type);
    if (!rewritten) return rewritten.error();
    out.index = std::move(*rewritten);
    return out;
}

error no_platform_match(const digest& index, const std::vector<platform>& platforms,
                        const std::vector<std::string>& available) {
    std::string have;
    for (const auto& name : available)
        have += (have.empty() ? "" : ", ") + name;
    return make_error(errc::platform_mismatch,
                      "no entry of index " + index.str() + " matches platform(s) " +
                          platform_list(platforms) +
                          "; available: " + (have.empty() ? "none (no entry names a platform)" : have));
}

result<manifest> filter_index(const manifest& index, const std::vector<platform>& platforms) {
    auto selected = select_platforms(index, platforms);
    if (!selected) return selected.error();
    if (!selected->index) return no_platform_match(index.digest, platforms, selected->available);
    return std::move(*selected->index);
}

std::optional<platform> schema1_platform(const manifest& m) {
    if (m.kind != manifest_kind::schema1) return std::nullopt;
    const auto body = nlohmann::json::parse(m.bytes, nullptr, false);
    if (!body.is_object()) return std::nullopt;
    const auto text = [](const json& object, const char* key) {
        const auto it = object.find(key);
        return it != object.end() && it->is_string() ? it->get<std::string>() : std::string{};
    };
    // history[0] describes the newest layer; its v1Compatibility is the image's configuration.
    json config = json::object();
    if (const auto history = body.find("history");
        history != body.end() && history->is_array() && !history->empty() && history->front().is_object()) {
        const auto v1 = text(history->front(), "v1Compatibility");
        if (auto parsed = json::parse(v1, nullptr, false); parsed.is_object()) config = std::move(parsed);
    }
    platform p;
    p.architecture = text(config, "architecture");
    if (p.architecture.empty()) p.architecture = text(body, "architecture");
    if (p.architecture.empty()) return std::nullopt;
    p.os = text(config, "os");
    // Schema 1 predates images for other systems: Docker wrote "linux" there, or nothing.
    if (p.os.empty()) p.os = "linux";
    p.variant = text(config, "variant");
    return p;
}

} // namespace libregistry
