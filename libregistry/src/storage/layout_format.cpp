#include "libregistry/storage/layout_format.hpp"

#include "libregistry/core/media_type.hpp"
#include "libregistry/core/printable.hpp"

#include "storage/detail/files.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace libregistry {

using json = nlohmann::json;

namespace {

std::string in_quotes(std::string_view text) {
    return fmt::format("\"{}\"", printable(text, 200));
}

bool is_alnum(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_valid_component(std::string_view c) noexcept {
    // alphanum (separator alphanum)*: starts and ends with an alphanumeric; between runs of alphanumerics,
    // exactly one of -._:@+ or exactly "--".
    if (c.empty() || !is_alnum(c.front()) || !is_alnum(c.back())) return false;
    std::size_t i = 0;
    while (i < c.size()) {
        if (is_alnum(c[i])) {
            ++i;
            continue;
        }
        std::size_t run = i;
        while (run < c.size() && !is_alnum(c[run]))
            ++run;
        const auto sep = c.substr(i, run - i);
        const bool one = sep.size() == 1 && std::string_view("-._:@+").find(sep[0]) != std::string_view::npos;
        if (!one && sep != "--") return false;
        i = run;
    }
    return true;
}

result<descriptor> parse_entry(const json& j, std::string_view where, std::size_t n) {
    const auto at = fmt::format("manifests[{}]", n);
    if (!j.is_object()) return detail::invalid_archive(where, at + " is not an object");
    descriptor d;
    const auto mt = j.find("mediaType");
    if (mt == j.end() || !mt->is_string() || mt->get_ref<const std::string&>().empty())
        return detail::invalid_archive(where, at + ".mediaType is missing or not a non-empty string");
    d.media_type = mt->get<std::string>();
    const auto dg = j.find("digest");
    if (dg == j.end() || !dg->is_string())
        return detail::invalid_archive(where, at + ".digest is missing or not a string");
    auto parsed = digest::parse(dg->get<std::string>());
    if (!parsed) return detail::invalid_archive(where, at + ".digest: " + parsed.error().message);
    d.digest = *parsed;
    const auto sz = j.find("size");
    if (sz == j.end() || !sz->is_number_integer() || sz->get<std::int64_t>() < 0 ||
        sz->get<std::int64_t>() > (std::int64_t{1} << 53))
        return detail::invalid_archive(where, at + ".size is missing or not a non-negative integer");
    d.size = sz->get<std::int64_t>();
    if (const auto a = j.find("annotations"); a != j.end()) {
        if (!a->is_object()) return detail::invalid_archive(where, at + ".annotations is not an object");
        for (const auto& [key, value] : a->items()) {
            if (!value.is_string())
                return detail::invalid_archive(
                    where, fmt::format("{}.annotations[{}] is not a string", at, in_quotes(key)));
            d.annotations[key] = value.get<std::string>();
        }
    }
    if (const auto ref = d.annotations.find(std::string(ref_name_annotation));
        ref != d.annotations.end() && !is_valid_ref_name(ref->second))
        return detail::invalid_archive(
            where, fmt::format("{}: {} {} is not a valid reference name (image-spec annotations)", at,
                               ref_name_annotation, in_quotes(ref->second)));
    if (const auto p = j.find("platform"); p != j.end()) {
        if (!p->is_object()) return detail::invalid_archive(where, at + ".platform is not an object");
        platform plat;
        const std::pair<const char*, std::string*> fields[] = {{"os", &plat.os},
                                                               {"architecture", &plat.architecture},
                                                               {"variant", &plat.variant},
                                                               {"os.version", &plat.os_version}};
        for (const auto& [key, out] : fields) {
            const auto f = p->find(key);
            if (f == p->end()) continue;
            if (!f->is_string())
                return detail::invalid_archive(where, fmt::format("{}.platform.{} is not a string", at, key));
            *out = f->get<std::string>();
        }
        if (plat.os.empty() || plat.architecture.empty())
            return detail::invalid_archive(where, at + ".platform needs os and architecture");
        d.platform = std::move(plat);
    }
    if (const auto t = j.find("artifactType"); t != j.end()) {
        if (!t->is_string()) return detail::invalid_archive(where, at + ".artifactType is not a string");
        d.artifact_type = t->get<std::string>();
    }
    if (const auto u = j.find("urls"); u != j.end()) {
        if (!u->is_array()) return detail::invalid_archive(where, at + ".urls is not an array");
        for (const auto& url : *u) {
            if (!url.is_string())
                return detail::invalid_archive(where, at + ".urls holds a value that is not a string");
            d.urls.push_back(url.get<std::string>());
        }
    }
    return d;
}

} // namespace

std::string oci_layout_file() {
    return R"({"imageLayoutVersion":"1.0.0"})";
}

result<void> parse_oci_layout(std::string_view text, std::string_view where) {
    if (text.size() > max_oci_layout_size)
        return detail::invalid_archive(
            where, fmt::format("{} bytes, more than the {} accepted", text.size(), max_oci_layout_size));
    const auto j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return detail::invalid_archive(where, "not a JSON object");
    const auto v = j.find("imageLayoutVersion");
    if (v == j.end() || !v->is_string())
        return detail::invalid_archive(where, "imageLayoutVersion is missing or not a string");
    const auto& version = v->get_ref<const std::string&>();
    if (!version.starts_with("1."))
        return detail::invalid_archive(
            where, fmt::format("imageLayoutVersion {} is not supported (1.0.0 is)", in_quotes(version)));
    return {};
}

result<std::vector<descriptor>> parse_layout_index(std::string_view text, std::string_view where) {
    if (text.size() > max_layout_index_size)
        return detail::invalid_archive(
            where, fmt::format("{} bytes, more than the {} accepted", text.size(), max_layout_index_size));
    const auto j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return detail::invalid_archive(where, "not a JSON object");
    const auto version = j.find("schemaVersion");
    if (version == j.end() || !version->is_number_integer() || version->get<std::int64_t>() != 2)
        return detail::invalid_archive(where, "schemaVersion is not 2");
    if (const auto mt = j.find("mediaType"); mt != j.end())
        if (!mt->is_string() || mt->get_ref<const std::string&>() != media_types::oci_index)
            return detail::invalid_archive(where, fmt::format("mediaType is not {}", media_types::oci_index));
    const auto manifests = j.find("manifests");
    if (manifests == j.end() || !manifests->is_array())
        return detail::invalid_archive(where, "manifests is missing or not an array");
    std::vector<descriptor> out;
    out.reserve(manifests->size());
    for (const auto& entry : *manifests) {
        auto d = parse_entry(entry, where, out.size());
        if (!d) return d.error();
        out.push_back(std::move(*d));
    }
    return out;
}

std::string layout_index_file(const std::vector<descriptor>& manifests, const std::set<digest>& blobs) {
    json list = json::array();
    for (const auto& d : manifests) {
        json e = json::object();
        e["mediaType"] = d.media_type;
        e["digest"] = d.digest.str();
        e["size"] = d.size;
        if (d.platform) {
            json p = {{"architecture", d.platform->architecture}, {"os", d.platform->os}};
            if (!d.platform->variant.empty()) p["variant"] = d.platform->variant;
            if (!d.platform->os_version.empty()) p["os.version"] = d.platform->os_version;
            e["platform"] = std::move(p);
        }
        if (!d.artifact_type.empty()) e["artifactType"] = d.artifact_type;
        if (!d.urls.empty()) e["urls"] = d.urls;
        if (!d.annotations.empty()) e["annotations"] = d.annotations;
        list.push_back(std::move(e));
    }
    json index = {
        {"schemaVersion", 2}, {"mediaType", media_types::oci_index}, {"manifests", std::move(list)}};
    if (!blobs.empty()) {
        std::string text;
        for (const auto& b : blobs) {
            if (!text.empty()) text += ' ';
            text += b.str();
        }
        index["annotations"] = {{std::string(blob_list_annotation), std::move(text)}};
    }
    return index.dump(-1, ' ', false, json::error_handler_t::replace);
}

result<std::optional<std::set<digest>>> parse_layout_blob_list(std::string_view text,
                                                               std::string_view where) {
    if (auto entries = parse_layout_index(text, where); !entries) return entries.error();
    const auto j = json::parse(text, nullptr, false);
    const auto a = j.find("annotations");
    if (a == j.end()) return std::optional<std::set<digest>>{};
    if (!a->is_object()) return detail::invalid_archive(where, "annotations is not an object");
    const auto list = a->find(std::string(blob_list_annotation));
    if (list == a->end()) return std::optional<std::set<digest>>{};
    if (!list->is_string())
        return detail::invalid_archive(where,
                                       fmt::format("annotations.{} is not a string", blob_list_annotation));
    std::set<digest> out;
    std::string_view rest = list->get_ref<const std::string&>();
    while (!rest.empty()) {
        const auto space = rest.find(' ');
        const auto item = rest.substr(0, space);
        auto d = digest::parse(item);
        if (!d)
            return detail::invalid_archive(where, fmt::format("annotations.{}: {} is not a digest",
                                                              blob_list_annotation, in_quotes(item)));
        out.insert(*d);
        if (space == std::string_view::npos) break;
        rest.remove_prefix(space + 1);
    }
    return std::optional<std::set<digest>>{std::move(out)};
}

std::string delta_file(const delta_record& record) {
    json omitted = json::array();
    for (const auto& d : record.omitted)
        omitted.push_back(d.str());
    const json j = {
        {"base", record.base}, {"baseIndex", record.base_index.str()}, {"omitted", std::move(omitted)}};
    return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

result<delta_record> parse_delta_file(std::string_view text, std::string_view where) {
    if (text.size() > max_delta_file_size)
        return detail::invalid_archive(
            where, fmt::format("{} bytes, more than the {} accepted", text.size(), max_delta_file_size));
    const auto j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return detail::invalid_archive(where, "not a JSON object");
    for (const auto& [key, value] : j.items())
        if (key != "base" && key != "baseIndex" && key != "omitted")
            return detail::invalid_archive(where, fmt::format("unknown key {}", in_quotes(key)));
    delta_record out;
    const auto base = j.find("base");
    if (base == j.end() || !base->is_string() || base->get_ref<const std::string&>().empty())
        return detail::invalid_archive(where, "base is missing or not a non-empty string");
    out.base = base->get<std::string>();
    if (out.base.size() > max_delta_base_size)
        return detail::invalid_archive(where,
                                       fmt::format("base is longer than {} bytes", max_delta_base_size));
    for (const char c : out.base)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return detail::invalid_archive(where, "base holds a control character");
    const auto index = j.find("baseIndex");
    if (index == j.end() || !index->is_string())
        return detail::invalid_archive(where, "baseIndex is missing or not a string");
    auto index_digest = digest::parse(index->get_ref<const std::string&>());
    if (!index_digest)
        return detail::invalid_archive(where, fmt::format("baseIndex {} is not a digest",
                                                          in_quotes(index->get_ref<const std::string&>())));
    out.base_index = *index_digest;
    const auto omitted = j.find("omitted");
    if (omitted == j.end() || !omitted->is_array())
        return detail::invalid_archive(where, "omitted is missing or not an array");
    for (std::size_t i = 0; i < omitted->size(); ++i) {
        const auto& item = (*omitted)[i];
        if (!item.is_string())
            return detail::invalid_archive(where, fmt::format("omitted[{}] is not a string", i));
        auto d = digest::parse(item.get_ref<const std::string&>());
        if (!d)
            return detail::invalid_archive(where, fmt::format("omitted[{}] {} is not a digest", i,
                                                              in_quotes(item.get_ref<const std::string&>())));
        if (!out.omitted.insert(*d).second)
            return detail::invalid_archive(where, fmt::format("omitted[{}] {} is listed twice", i, d->str()));
    }
    return out;
}

bool is_valid_ref_name(std::string_view name) noexcept {
    if (name.empty()) return false;
    std::size_t start = 0;
    for (;;) {
        const auto slash = name.find('/', start);
        if (!is_valid_component(
                name.substr(start, slash == std::string_view::npos ? name.npos : slash - start)))
            return false;
        if (slash == std::string_view::npos) return true;
        start = slash + 1;
    }
}

std::string blob_path(const digest& d) {
    return fmt::format("blobs/{}/{}", d.algorithm(), d.encoded());
}

} // namespace libregistry
