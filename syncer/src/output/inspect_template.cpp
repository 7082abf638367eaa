#include "output/inspect_template.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

namespace syncer {

using libregistry::errc;
using libregistry::make_error;
using libregistry::result;

namespace {

using json = nlohmann::ordered_json;

enum class kind { object, string, list, map, time };

/// Go's name for the type, as its "can't evaluate field X in type T" says it.
const char* go_type(kind k) {
    switch (k) {
    case kind::object:
        return "inspect.Output";
    case kind::string:
        return "string";
    case kind::list:
        return "[]string";
    case kind::map:
        return "map[string]string";
    case kind::time:
        return "*time.Time";
    }
    return "?";
}

constexpr const char* field_names =
    "Name, Digest, RepoTags, Created, DockerVersion, Labels, Architecture, Os, "
    "Layers, Env";

result<kind> field_kind(kind of, const std::string& field) {
    if (of == kind::map) return kind::string;
    if (of != kind::object)
        return make_error(errc::invalid_argument,
                          fmt::format("can't evaluate field {} in type {}", field, go_type(of)));
    if (field == "Name" || field == "Digest" || field == "DockerVersion" || field == "Architecture" ||
        field == "Os")
        return kind::string;
    if (field == "RepoTags" || field == "Layers" || field == "Env") return kind::list;
    if (field == "Labels") return kind::map;
    if (field == "Created") return kind::time;
    return make_error(errc::invalid_argument,
                      fmt::format("unknown field \"{}\" (skopeo inspect has {})", field, field_names));
}

/// A value while the template runs.
struct value {
    kind k = kind::string;
    std::string text;
    bool no_value = false; ///< a map key that is not there: Go prints <no value>
    std::vector<std::string> list;
    std::map<std::string, std::string> map;
    std::optional<go_time> time;
};

value field_of(const inspect_info& info, const value& from, const std::string& field) {
    value v;
    if (from.k == kind::map) {
        auto it = from.map.find(field);
        if (it == from.map.end())
            v.no_value = true;
        else
            v.text = it->second;
        return v;
    }
    // from.k is object: field_kind checked the name when the template was parsed.
    if (field == "Name") v.text = info.name;
    if (field == "Digest") v.text = info.digest;
    if (field == "DockerVersion") v.text = info.docker_version;
    if (field == "Architecture") v.text = info.architecture;
    if (field == "Os") v.text = info.os;
    if (field == "RepoTags" || field == "Layers" || field == "Env") {
        v.k = kind::list;
        if (field == "RepoTags") v.list = info.repo_tags;
        if (field == "Layers") v.list = info.layers;
        if (field == "Env" && info.env) v.list = *info.env;
    }
    if (field == "Labels") {
        v.k = kind::map;
        if (info.labels) v.map = *info.labels;
    }
    if (field == "Created") {
        v.k = kind::time;
        v.time = info.created;
    }
    return v;
}

/// fmt.Sprint's %v of `v`.
std::string print(const value& v) {
    switch (v.k) {
    case kind::string:
        return v.no_value ? "<no value>" : v.text;
    case kind::list: {
        std::string out = "[";
        for (std::size_t i = 0; i < v.list.size(); ++i)
            out += (i ? " " : "") + v.list[i];
        return out + "]";
    }
    case kind::map: {
        std::string out = "map[";
        bool first = true;
        for (const auto& [key, val] : v.map) {
            out += fmt::format("{}{}:{}", first ? "" : " ", key, val);
            first = false;
        }
        return out + "]";
    }
    case kind::time:
        return v.time ? go_time_string(*v.time) : "<nil>";
    case kind::object:
        break;
    }
    return {};
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// `{{json .}}` (any spacing) or `json`: skopeo prints its JSON for these (containers/common report.IsJSON).
bool is_json_format(std::string_view text) {
    std::string compact;
    for (char c : text)
        if (!is_space(c)) compact += c;
    return compact == "json" || compact == "{{json.}}";
}

} // namespace

struct inspect_template::node {
    enum class type { text, print, index, range } t = type::text;
    std::string text;                              ///< type::text
    std::vector<std::string> path;                 ///< the fields after the dot ("." alone: empty)
    std::string key;                               ///< index with a string key
    std::optional<std::size_t> position;           ///< index with a number
    std::vector<std::shared_ptr<const node>> body; ///< range
};

namespace {

using node = inspect_template::node;
using node_list = std::vector<std::shared_ptr<const node>>;

struct token {
    std::string text;
    bool quoted = false;
};

result<std::vector<token>> tokenize(std::string_view action) {
    std::vector<token> out;
    std::size_t i = 0;
    while (i < action.size()) {
        if (is_space(action[i])) {
            ++i;
            continue;
        }
        token t;
        if (action[i] == '"') {
            t.quoted = true;
            ++i;
            bool closed = false;
            while (i < action.size()) {
                char c = action[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c == '\\' && i < action.size()) {
                    char e = action[i++];
                    if (e == 'n')
                        c = '\n';
                    else if (e == 't')
                        c = '\t';
                    else if (e == '"' || e == '\\')
                        c = e;
                    else
                        return make_error(errc::invalid_argument,
                                          fmt::format("unsupported escape \\{} in a string", e));
                }
                t.text += c;
            }
            if (!closed) return make_error(errc::invalid_argument, "unterminated quoted string");
        } else {
            while (i < action.size() && !is_space(action[i]))
                t.text += action[i++];
        }
        out.push_back(std::move(t));
    }
    return out;
}

/// `.A.B` as {"A", "B"}, checked against the fields of `of`; gives the kind it has.
result<kind> parse_path(const token& t, kind of, std::vector<std::string>& path) {
    if (t.quoted || t.text.empty() || t.text[0] != '.')
        return make_error(errc::invalid_argument, fmt::format("expected a field such as .Name, got {}",
                                                              t.quoted ? "a string" : t.text));
    kind k = of;
    if (t.text == ".") return k;
    std::string_view rest(t.text);
    rest.remove_prefix(1);
    while (true) {
        auto dot = rest.find('.');
        std::string field(rest.substr(0, dot));
        if (field.empty())
            return make_error(errc::invalid_argument, fmt::format("malformed field {}", t.text));
        auto next = field_kind(k, field);
        if (!next) return next.error();
        path.push_back(field);
        k = *next;
        if (dot == std::string_view::npos) break;
        rest.remove_prefix(dot + 1);
    }
    return k;
}

value evaluate(const inspect_info& info, const value& dot, const std::vector<std::string>& path) {
    value v = dot;
    for (const auto& field : path)
        v = field_of(info, v, field);
    return v;
}

struct parser {
    std::string_view text;
    std::size_t pos = 0;
    bool trim_next = false;

    /// Parses until {{end}} (`in_range`) or the end of the text, with `.` of kind `dot`.
    result<node_list> parse(kind dot, bool in_range) {
        node_list nodes;
        while (true) {
            const auto open = text.find("{{", pos);
            std::string literal(
                text.substr(pos, open == std::string_view::npos ? std::string_view::npos : open - pos));
            if (trim_next) {
                std::size_t k = 0;
                while (k < literal.size() && is_space(literal[k]))
                    ++k;
                literal.erase(0, k);
                trim_next = false;
            }
            if (open == std::string_view::npos) {
                if (!literal.empty())
                    nodes.push_back(std::make_shared<node>(node{node::type::text, literal, {}, {}, {}, {}}));
                if (in_range) return make_error(errc::invalid_argument, "{{range}} without {{end}}");
                return nodes;
            }
            const auto close = text.find("}}", open + 2);
            if (close == std::string_view::npos)
                return make_error(errc::invalid_argument, "unclosed action: {{ without }}");
            auto action = text.substr(open + 2, close - open - 2);
            pos = close + 2;
            // "{{- " and " -}}" trim the white space next to the action (Go requires the space).
            if (action.size() >= 2 && action[0] == '-' && is_space(action[1])) {
                while (!literal.empty() && is_space(literal.back()))
                    literal.pop_back();
                action.remove_prefix(2);
            }
            if (action.size() >= 2 && action.back() == '-' && is_space(action[action.size() - 2])) {
                trim_next = true;
                action.remove_suffix(2);
            }
            if (!literal.empty())
                nodes.push_back(std::make_shared<node>(node{node::type::text, literal, {}, {}, {}, {}}));
            auto tokens = tokenize(action);
            if (!tokens) return tokens.error();
            if (tokens->empty()) return make_error(errc::invalid_argument, "empty action {{}}");
            const auto& words = *tokens;
            const auto& head = words[0].text;
            auto n = std::make_shared<node>();
            if (!words[0].quoted && head == "end") {
                if (!in_range) return make_error(errc::invalid_argument, "{{end}} without {{range}}");
                if (words.size() != 1) return make_error(errc::invalid_argument, "{{end}} takes nothing");
                return nodes;
            }
            if (!words[0].quoted && head == "range") {
                if (words.size() != 2)
                    return make_error(errc::invalid_argument,
                                      "{{range}} takes one field, e.g. {{range .RepoTags}}");
                n->t = node::type::range;
                auto k = parse_path(words[1], dot, n->path);
                if (!k) return k.error();
                if (*k != kind::list && *k != kind::map)
                    return make_error(
                        errc::invalid_argument,
                        fmt::format("range can't iterate over {} (type {})", words[1].text, go_type(*k)));
                auto body = parse(kind::string, true);
                if (!body) return body.error();
                n->body = std::move(*body);
            } else if (!words[0].quoted && head == "index") {
                if (words.size() != 3)
                    return make_error(
                        errc::invalid_argument,
                        "index takes a field and a key: {{index .Labels \"key\"}} or {{index .RepoTags 0}}");
                n->t = node::type::index;
                auto k = parse_path(words[1], dot, n->path);
                if (!k) return k.error();
                if (*k == kind::map) {
                    if (!words[2].quoted)
                        return make_error(
                            errc::invalid_argument,
                            fmt::format("index of {} needs a quoted key, e.g. \"version\"", words[1].text));
                    n->key = words[2].text;
                } else if (*k == kind::list) {
                    std::size_t at = 0;
                    const auto& w = words[2].text;
                    auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), at);
                    if (words[2].quoted || ec != std::errc() || end != w.data() + w.size())
                        return make_error(errc::invalid_argument,
                                          fmt::format("index of {} needs a number, e.g. 0", words[1].text));
                    n->position = at;
                } else {
                    return make_error(errc::invalid_argument, fmt::format("can't index item of type {} ({})",
                                                                          go_type(*k), words[1].text));
                }
            } else if (!words[0].quoted && !head.empty() && head[0] == '.') {
                if (words.size() != 1)
                    return make_error(errc::invalid_argument,
                                      fmt::format("{} is not a function; one field per {{{{...}}}}", head));
                n->t = node::type::print;
                auto k = parse_path(words[0], dot, n->path);
                if (!k) return k.error();
                if (*k == kind::object)
                    return make_error(errc::invalid_argument,
                                      "{{.}} would print the whole image: use {{json .}}, or name a field");
            } else if (!words[0].quoted && head == "json") {
                return make_error(errc::invalid_argument,
                                  "json works only as the whole template, {{json .}} (skopeo's JSON output)");
            } else {
                return make_error(
                    errc::invalid_argument,
                    fmt::format("unsupported {{{{{}}}}}: syncer knows fields (.Name), index, range "
                                "and {{{{json .}}}}",
                                head));
            }
            nodes.push_back(std::move(n));
        }
    }
};

result<void> run(const node_list& nodes, const inspect_info& info, const value& dot, std::string& out) {
    for (const auto& n : nodes) {
        switch (n->t) {
        case node::type::text:
            out += n->text;
            break;
        case node::type::print:
            out += print(evaluate(info, dot, n->path));
            break;
        case node::type::index: {
            auto v = evaluate(info, dot, n->path);
            if (v.k == kind::map) {
                auto it = v.map.find(n->key);
                if (it != v.map.end()) out += it->second;
            } else {
                if (*n->position >= v.list.size())
                    return make_error(errc::invalid_argument,
                                      fmt::format("index {} is out of range: there are {} items",
                                                  *n->position, v.list.size()));
                out += v.list[*n->position];
            }
            break;
        }
        case node::type::range: {
            auto v = evaluate(info, dot, n->path);
            std::vector<std::string> items = v.list;
            if (v.k == kind::map)
                for (const auto& [key, val] : v.map)
                    items.push_back(val);
            for (const auto& item : items) {
                value element;
                element.text = item;
                if (auto r = run(n->body, info, element, out); !r) return r;
            }
            break;
        }
        }
    }
    return {};
}

json string_list(const std::vector<std::string>& list) {
    json out = json::array();
    for (const auto& s : list)
        out.push_back(s);
    return out;
}

} // namespace

std::string inspect_json(const inspect_info& info) {
    json out = json::object();
    out["Name"] = info.name;
    out["Digest"] = info.digest;
    out["RepoTags"] = string_list(info.repo_tags);
    out["Created"] = info.created ? json(go_time_json(*info.created)) : json(nullptr);
    out["DockerVersion"] = info.docker_version;
    if (info.labels) {
        json labels = json::object();
        for (const auto& [k, v] : *info.labels)
            labels[k] = v;
        out["Labels"] = std::move(labels);
    } else {
        out["Labels"] = nullptr;
    }
    out["Architecture"] = info.architecture;
    out["Os"] = info.os;
    out["Layers"] = string_list(info.layers);
    out["Env"] = info.env ? string_list(*info.env) : json(nullptr);
    return go_json_indent(out) + "\n";
}

result<void> read_inspect_config(std::string_view config_json, inspect_info& info) {
    auto doc = json::parse(config_json, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        return make_error(errc::invalid_argument, "the image config is not a JSON object");
    auto string_of = [](const json& obj, const char* key) -> std::string {
        auto it = obj.find(key);
        return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    info.architecture = string_of(doc, "architecture");
    info.os = string_of(doc, "os");
    info.docker_version = string_of(doc, "docker_version");
    if (auto it = doc.find("created"); it != doc.end() && it->is_string()) {
        info.created = parse_go_time(it->get_ref<const std::string&>());
        if (!info.created)
            return make_error(errc::invalid_argument,
                              fmt::format("the image config's created time {} is not RFC 3339", it->dump()));
    }
    if (auto config = doc.find("config"); config != doc.end() && config->is_object()) {
        if (auto labels = config->find("Labels"); labels != config->end() && labels->is_object()) {
            info.labels.emplace();
            for (const auto& item : labels->items())
                if (item.value().is_string()) (*info.labels)[item.key()] = item.value().get<std::string>();
        }
        if (auto env = config->find("Env"); env != config->end() && env->is_array()) {
            info.env.emplace();
            for (const auto& e : *env)
                if (e.is_string()) info.env->push_back(e.get<std::string>());
        }
    }
    return {};
}

namespace {

/// The member `key` of `obj` as Go's encoding/json finds it: the exact name, else one that differs only in
/// case. Null when absent or null.
const json* member(const json& obj, std::string_view key) {
    if (!obj.is_object()) return nullptr;
    const json* loose = nullptr;
    for (const auto& item : obj.items()) {
        if (item.key() == key) return item.value().is_null() ? nullptr : &item.value();
        if (!loose && item.key().size() == key.size()) {
            bool same = true;
            for (std::size_t i = 0; i < key.size() && same; ++i)
                same = std::tolower(static_cast<unsigned char>(item.key()[i])) ==
                       std::tolower(static_cast<unsigned char>(key[i]));
            if (same && !item.value().is_null()) loose = &item.value();
        }
    }
    return loose;
}

std::string string_member(const json& obj, std::string_view key) {
    const auto* v = member(obj, key);
    return v && v->is_string() ? v->get<std::string>() : std::string();
}

/// A string list, left out (omitempty) when absent or empty.
void copy_strings(const json& from, std::string_view key, json& to, const char* as) {
    const auto* v = member(from, key);
    if (!v || !v->is_array() || v->empty()) return;
    json list = json::array();
    for (const auto& e : *v)
        list.push_back(e.is_string() ? e.get<std::string>() : std::string());
    to[as] = std::move(list);
}

/// A Go map, keys sorted, left out when empty; `set`: map[string]struct{} (values {}).
void copy_map(const json& from, std::string_view key, json& to, const char* as, bool set) {
    const auto* v = member(from, key);
    if (!v || !v->is_object() || v->empty()) return;
    std::map<std::string, json> sorted;
    for (const auto& item : v->items())
        sorted[item.key()] =
            set ? json::object() : json(item.value().is_string() ? item.value().get<std::string>() : "");
    json m = json::object();
    for (auto& [k, val] : sorted)
        m[k] = std::move(val);
    to[as] = std::move(m);
}

result<void> copy_time(const json& from, json& to) {
    const auto* v = member(from, "created");
    if (!v) return {};
    auto t = v->is_string() ? parse_go_time(v->get_ref<const std::string&>()) : std::nullopt;
    if (!t)
        return make_error(errc::invalid_argument,
                          fmt::format("the image config's created time {} is not RFC 3339", v->dump()));
    to["created"] = go_time_json(*t);
    return {};
}

void copy_string(const json& from, std::string_view key, json& to, const char* as, bool omit_empty) {
    auto s = string_member(from, key);
    if (!s.empty() || !omit_empty) to[as] = std::move(s);
}

} // namespace

result<std::string> inspect_config_json(std::string_view config_json) {
    auto doc = json::parse(config_json, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        return make_error(errc::invalid_argument, "the image config is not a JSON object");
    json out = json::object();
    if (auto r = copy_time(doc, out); !r) return r.error();
    copy_string(doc, "author", out, "author", true);
    copy_string(doc, "architecture", out, "architecture", false);
    copy_string(doc, "variant", out, "variant", true);
    copy_string(doc, "os", out, "os", false);
    copy_string(doc, "os.version", out, "os.version", true);
    copy_strings(doc, "os.features", out, "os.features");
    json config = json::object();
    if (const auto* c = member(doc, "config"); c && c->is_object()) {
        copy_string(*c, "User", config, "User", true);
        copy_map(*c, "ExposedPorts", config, "ExposedPorts", true);
        copy_strings(*c, "Env", config, "Env");
        copy_strings(*c, "Entrypoint", config, "Entrypoint");
        copy_strings(*c, "Cmd", config, "Cmd");
        copy_map(*c, "Volumes", config, "Volumes", true);
        copy_string(*c, "WorkingDir", config, "WorkingDir", true);
        copy_map(*c, "Labels", config, "Labels", false);
        copy_string(*c, "StopSignal", config, "StopSignal", true);
        if (const auto* e = member(*c, "ArgsEscaped"); e && e->is_boolean() && e->get<bool>())
            config["ArgsEscaped"] = true;
    }
    out["config"] = std::move(config);
    json rootfs = json::object();
    const auto* r = member(doc, "rootfs");
    rootfs["type"] = r ? string_member(*r, "type") : std::string();
    const auto* diff_ids = r ? member(*r, "diff_ids") : nullptr;
    if (diff_ids && diff_ids->is_array()) {
        json ids = json::array();
        for (const auto& d : *diff_ids)
            ids.push_back(d.is_string() ? d.get<std::string>() : std::string());
        rootfs["diff_ids"] = std::move(ids);
    } else {
        rootfs["diff_ids"] = nullptr;
    }
    out["rootfs"] = std::move(rootfs);
    if (const auto* h = member(doc, "history"); h && h->is_array() && !h->empty()) {
        json history = json::array();
        for (const auto& entry : *h) {
            json e = json::object();
            if (entry.is_object()) {
                if (auto t = copy_time(entry, e); !t) return t.error();
                copy_string(entry, "created_by", e, "created_by", true);
                copy_string(entry, "author", e, "author", true);
                copy_string(entry, "comment", e, "comment", true);
                if (const auto* el = member(entry, "empty_layer"); el && el->is_boolean() && el->get<bool>())
                    e["empty_layer"] = true;
            }
            history.push_back(std::move(e));
        }
        out["history"] = std::move(history);
    }
    return go_json_indent(out) + "\n";
}

result<inspect_template> inspect_template::parse(std::string_view text) {
    inspect_template t;
    if (is_json_format(text)) {
        t.json_ = true;
        return t;
    }
    parser p{text};
    auto nodes = p.parse(kind::object, false);
    if (!nodes) return make_error(errc::invalid_argument, fmt::format("--format: {}", nodes.error().message));
    t.nodes_ = std::move(*nodes);
    return t;
}

result<std::string> inspect_template::render(const inspect_info& info) const {
    if (json_) return inspect_json(info);
    std::string out;
    value top;
    top.k = kind::object;
    if (auto r = run(nodes_, info, top, out); !r)
        return make_error(errc::invalid_argument, fmt::format("--format: {}", r.error().message));
    if (!out.ends_with('\n')) out += '\n';
    return out;
}

} // namespace syncer
