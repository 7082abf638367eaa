// Reading a config file: its format, one YAML or JSON document, and the positions messages blame.
#include "config/document.hpp"

#include "text.hpp"

#include <nlohmann/json.hpp>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <map>
#include <sstream>

namespace syncer {

using namespace libregistry;

namespace {

// Config files are small; anything bigger is almost certainly the wrong file.
constexpr std::size_t max_config_size = 16 * 1024 * 1024;

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

} // namespace

namespace detail {

std::string in_quotes(std::string_view s) {
    return fmt::format("\"{}\"", s);
}

error config_error(std::string_view where, std::string_view why) {
    if (where.empty()) return make_error(errc::invalid_argument, std::string(why));
    return make_error(errc::invalid_argument, fmt::format("{}: {}", where, why));
}

std::string at(std::string_view name, const YAML::Mark& mark) {
    return file_line(name, mark.is_null() ? -1 : mark.line);
}

YAML::Mark value_mark(const YAML::Node& key, const YAML::Node& value) {
    return value.IsNull() ? key.Mark() : value.Mark();
}

bool json_non_string(const YAML::Node& node, file_format format) {
    // yaml-cpp tags a quoted scalar "!" and a plain one "?"; null is a node type of its own.
    return format == file_format::json && node.IsScalar() && node.Tag() == "?";
}

std::optional<bool> plain_bool(const YAML::Node& node) {
    if (!node.IsScalar() || node.Tag() == "!") return std::nullopt;
    const auto& s = node.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    return std::nullopt;
}

std::string_view format_name(file_format format) {
    return format == file_format::json ? "JSON" : "YAML";
}

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

result<std::string> read_file(const std::string& path) {
    auto text = read_small_file(path, max_config_size);
    if (text) return text;
    return config_error(path, text.error().message +
                                  (text.error().code == errc::too_large ? "; not a config file" : ""));
}

} // namespace detail

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
    return detail::config_error(path, "unknown extension, expected .json, .yaml or .yml");
}

} // namespace syncer
