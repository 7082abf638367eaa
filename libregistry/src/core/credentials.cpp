#include "libregistry/core/credentials.hpp"

#include "libregistry/core/reference.hpp"

#include "core/detail/ascii.hpp"
#include "core/detail/base64.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

namespace libregistry {
namespace {

using detail::decode_base64;
using detail::lower;
using detail::trim;
using json = nlohmann::json;

constexpr std::size_t max_auth_file_size = 16 * 1024 * 1024;
// docker-credential-helpers' ErrCredentialsNotFound text; helpers print it and exit 1 for "no entry".
constexpr std::string_view helper_not_found = "credentials not found in native keychain";
// docker stores Docker Hub credentials under its v1 index URL, so helpers know Hub by that name.
constexpr std::string_view docker_hub_server_url = "https://index.docker.io/v1/";
// A helper Username of `<token>` marks Secret as an identity token (docker cli/config/credentials).
constexpr std::string_view identity_token_username = "<token>";

/// `text` as a JSON string literal, for naming keys in messages unambiguously.
std::string quote(std::string_view text) {
    return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string normalize_host(std::string_view host) {
    return normalize_registry(lower(trim(host)));
}

/// An auths/credHelpers key as host[/path]. Keys written as URLs are docker's legacy form, where only the
/// host counts (the path of `https://index.docker.io/v1/` is the API version); bare keys may carry a
/// repository namespace (containers-auth.json(5)).
std::string normalize_key(std::string_view key) {
    key = trim(key);
    bool had_scheme = false;
    if (auto scheme = key.find("://"); scheme != std::string_view::npos) {
        key.remove_prefix(scheme + 3);
        had_scheme = true;
    }
    const auto slash = key.find('/');
    std::string out = normalize_host(key.substr(0, slash));
    if (!had_scheme && slash != std::string_view::npos) {
        auto path = key.substr(slash);
        while (!path.empty() && path.back() == '/')
            path.remove_suffix(1);
        out += path;
    }
    return out;
}

std::string helper_server_url(const std::string& registry) {
    return registry == docker_hub_registry ? std::string(docker_hub_server_url) : registry;
}

/// First line of a helper's output, shortened and made printable for a message.
std::string first_line(std::string_view text) {
    text = trim(text);
    text = text.substr(0, text.find('\n'));
    text = trim(text);
    std::string out;
    for (char c : text.substr(0, 200)) {
        const auto u = static_cast<unsigned char>(c);
        out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
    }
    if (text.size() > 200) out += "...";
    return out;
}

error helper_error(std::string_view program, std::string_view what) {
    return make_error(errc::credentials_error, fmt::format("credential helper {}: {}", program, what));
}

} // namespace

std::string basic_authorization(std::string_view username, std::string_view password) {
    std::string pair(username);
    pair += ':';
    pair += password;
    return "Basic " + detail::encode_base64(pair);
}

result<credential> parse_user_password(std::string_view text) {
    const auto colon = text.find(':');
    credential c;
    c.username = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) c.password = std::string(text.substr(colon + 1));
    if (c.username.empty())
        return make_error(errc::invalid_argument,
                          "credentials must be given as USER[:PASSWORD] with a non-empty USER");
    return c;
}

std::vector<std::string> default_auth_files() {
    std::vector<std::string> candidates;
    auto env = [](const char* name) -> std::string {
        const char* v = std::getenv(name);
        return v ? std::string(v) : std::string();
    };
    if (auto v = env("REGISTRY_AUTH_FILE"); !v.empty()) candidates.push_back(v);
    if (auto v = env("XDG_RUNTIME_DIR"); !v.empty()) candidates.push_back(v + "/containers/auth.json");
    if (auto v = env("DOCKER_CONFIG"); !v.empty()) candidates.push_back(v + "/config.json");
    std::string home = env("HOME");
    if (home.empty()) {
        passwd pw{};
        passwd* found = nullptr;
        std::array<char, 4096> buffer{};
        if (::getpwuid_r(::getuid(), &pw, buffer.data(), buffer.size(), &found) == 0 && found && pw.pw_dir)
            home = pw.pw_dir;
    }
    if (!home.empty()) candidates.push_back(home + "/.docker/config.json");

    std::vector<std::string> files;
    for (auto& path : candidates) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec)) continue;
        if (std::find(files.begin(), files.end(), path) != files.end()) continue;
        files.push_back(std::move(path));
    }
    return files;
}

result<auth_file> auth_file::parse(std::string_view text, std::string path) {
    json doc;
    try {
        doc = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
        // The parser's own message quotes the text around the error, which may be a password.
        return make_error(errc::credentials_error,
                          fmt::format("{}: not valid JSON (near byte {})", path, e.byte));
    } catch (const json::exception&) {
        // A value the parser cannot hold, such as a number beyond a double.
        return make_error(errc::credentials_error,
                          fmt::format("{}: not valid JSON (a number out of range)", path));
    }
    if (!doc.is_object())
        return make_error(errc::credentials_error, fmt::format("{}: not a JSON object", path));

    auth_file file;
    file.path_ = std::move(path);
    auto fail = [&file](std::string_view where, std::string_view what) {
        return make_error(errc::credentials_error, fmt::format("{}: {}: {}", file.path_, where, what));
    };

    if (auto auths = doc.find("auths"); auths != doc.end() && !auths->is_null()) {
        if (!auths->is_object()) return fail("auths", "expected an object");
        for (const auto& item : auths->items()) {
            // Named references, not a structured binding: the lambda below captures `value`.
            const auto& key = item.key();
            const auto& value = item.value();
            const auto where = fmt::format("auths[{}]", quote(key));
            if (!value.is_object()) return fail(where, "expected an object");
            auto string_field = [&](const char* name) -> result<std::string> {
                auto it = value.find(name);
                if (it == value.end() || it->is_null()) return std::string();
                if (!it->is_string()) return fail(fmt::format("{}.{}", where, name), "expected a string");
                return it->get<std::string>();
            };
            auto auth = string_field("auth");
            if (!auth) return auth.error();
            auto username = string_field("username");
            if (!username) return username.error();
            auto password = string_field("password");
            if (!password) return password.error();
            auto identity = string_field("identitytoken");
            if (!identity) return identity.error();

            credential cred;
            if (!auth->empty()) {
                const auto decoded = decode_base64(trim(*auth));
                if (!decoded) return fail(where + ".auth", "not valid base64 \"user:password\"");
                const auto colon = decoded->find(':');
                if (colon == std::string::npos)
                    return fail(where + ".auth", "base64 text has no ':' (expected \"user:password\")");
                cred.username = decoded->substr(0, colon);
                cred.password = decoded->substr(colon + 1);
            } else {
                cred.username = std::move(*username);
                cred.password = std::move(*password);
            }
            cred.identity_token = std::move(*identity);
            // Docker Desktop leaves `{}` under auths for registries whose secrets live in credsStore; such an
            // entry must not hide the helper.
            if (cred.empty()) continue;
            file.auths_.push_back(entry{normalize_key(key), std::move(cred)});
        }
    }

    if (auto helpers = doc.find("credHelpers"); helpers != doc.end() && !helpers->is_null()) {
        if (!helpers->is_object()) return fail("credHelpers", "expected an object");
        for (const auto& [key, value] : helpers->items()) {
            if (!value.is_string())
                return fail(fmt::format("credHelpers[{}]", quote(key)), "expected a string");
            if (value.get_ref<const std::string&>().empty()) continue;
            auto host = normalize_key(key);
            host = host.substr(0, host.find('/'));
            file.cred_helpers_.emplace_back(std::move(host), value.get<std::string>());
        }
    }

    if (auto store = doc.find("credsStore"); store != doc.end() && !store->is_null()) {
        if (!store->is_string()) return fail("credsStore", "expected a string");
        file.creds_store_ = store->get<std::string>();
    }
    return file;
}

result<auth_file> auth_file::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return make_error(errc::credentials_error,
                          fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
    std::string text;
    char buffer[8192];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        text.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (text.size() > max_auth_file_size)
            return make_error(
                errc::credentials_error,
                fmt::format("{}: larger than {} bytes; not an auth file", path, max_auth_file_size));
    }
    if (in.bad()) return make_error(errc::credentials_error, fmt::format("{}: read error", path));
    return parse(text, path);
}

auth_file::lookup_plan auth_file::resolve(std::string_view registry, std::string_view repository) const {
    const auto host = normalize_host(registry);
    lookup_plan plan;
    plan.server = helper_server_url(host);
    // An explicit per-registry helper is the most specific instruction in the file (docker and
    // containers/image both consult it before anything else).
    for (const auto& [helper_host, helper] : cred_helpers_)
        if (helper_host == host) {
            plan.helper = helper;
            break;
        }

    // containers-auth.json(5): the longest key that is a path-segment prefix of `registry/repository` wins.
    std::string target = host;
    if (!repository.empty()) {
        target += '/';
        target += repository;
    }
    const entry* best = nullptr;
    for (const auto& e : auths_) {
        const bool matches = target == e.key || (target.starts_with(e.key) && target[e.key.size()] == '/');
        if (matches && (!best || e.key.size() > best->key.size())) best = &e;
    }
    if (best) plan.inline_entry = best->cred;
    plan.store = creds_store_;
    return plan;
}

namespace {

using ordered = nlohmann::ordered_json;

/// `text` as a JSON object with an object (or no) `auths`; "" is an empty file.
result<ordered> parse_for_edit(std::string_view text, std::string_view path) {
    if (trim(text).empty()) return ordered::object();
    ordered doc;
    try {
        doc = ordered::parse(text.begin(), text.end());
    } catch (const ordered::parse_error& e) {
        // Never the parser's own message: it quotes the text near the error, which may be a password.
        return make_error(
            errc::credentials_error,
            fmt::format("{}: not valid JSON (near byte {}); fix or remove the file", path, e.byte));
    } catch (const ordered::exception&) {
        return make_error(
            errc::credentials_error,
            fmt::format("{}: not valid JSON (a number out of range); fix or remove the file", path));
    }
    if (!doc.is_object())
        return make_error(errc::credentials_error, fmt::format("{}: not a JSON object", path));
    if (auto auths = doc.find("auths"); auths != doc.end() && !auths->is_null() && !auths->is_object())
        return make_error(errc::credentials_error, fmt::format("{}: auths: expected an object", path));
    return doc;
}

std::string dump_for_edit(const ordered& doc) {
    return doc.dump(1, '\t', false, ordered::error_handler_t::replace) + "\n";
}

/// The keys of `auths` that name `host` (`repositories`: keys with a repository path under it too).
std::vector<std::string> keys_for(const ordered& auths, const std::string& host, bool repositories) {
    std::vector<std::string> keys;
    for (const auto& item : auths.items()) {
        const auto key = normalize_key(item.key());
        if (key == host || (repositories && key.starts_with(host + "/"))) keys.push_back(item.key());
    }
    return keys;
}

} // namespace

result<std::string> auth_file_with_login(std::string_view text, std::string_view path,
                                         std::string_view registry, const credential& cred) {
    auto doc = parse_for_edit(text, path);
    if (!doc) return doc.error();
    const auto host = normalize_host(registry);
    auto& auths = (*doc)["auths"];
    if (auths.is_null()) auths = ordered::object();
    for (const auto& key : keys_for(auths, host, false))
        if (key != host) auths.erase(key);
    ordered entry = ordered::object();
    entry["auth"] = detail::encode_base64(cred.username + ":" + cred.password);
    auths[host] = std::move(entry);
    return dump_for_edit(*doc);
}

result<auth_file_removal> auth_file_without_login(std::string_view text, std::string_view path,
                                                  std::string_view registry) {
    auto doc = parse_for_edit(text, path);
    if (!doc) return doc.error();
    auth_file_removal out;
    auto auths = doc->find("auths");
    if (auths != doc->end() && auths->is_object()) {
        if (registry.empty()) {
            out.removed = auths->size();
            *auths = ordered::object();
        } else {
            for (const auto& key : keys_for(*auths, normalize_host(registry), true)) {
                auths->erase(key);
                ++out.removed;
            }
        }
    }
    out.text = dump_for_edit(*doc);
    return out;
}

result<std::string> credential_helper_program(std::string_view helper) {
    // A slash would turn the helper name into a path to run, and an empty one names no helper.
    if (helper.empty() || helper.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos)
        return make_error(errc::credentials_error,
                          fmt::format("invalid credential helper name {}", quote(helper)));
    return fmt::format("docker-credential-{}", helper);
}

result<std::optional<credential>> parse_credential_helper_answer(std::string_view program, int wait_status,
                                                                 std::string_view out, std::string_view err) {
    if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
        if (trim(out).find(helper_not_found) != std::string_view::npos ||
            trim(err).find(helper_not_found) != std::string_view::npos)
            return std::optional<credential>();
        std::string how = WIFEXITED(wait_status) ? fmt::format("exit status {}", WEXITSTATUS(wait_status))
                                                 : fmt::format("killed by signal {}", WTERMSIG(wait_status));
        auto detail = first_line(err);
        if (detail.empty()) detail = first_line(out);
        if (detail.empty()) return helper_error(program, fmt::format("failed ({})", how));
        return helper_error(program, fmt::format("failed ({}): {}", how, detail));
    }

    const auto doc = json::parse(out, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        return helper_error(program, "answered with something other than a JSON object");
    auto secret = doc.find("Secret");
    if (secret == doc.end() || !secret->is_string())
        return helper_error(program, "answered without a \"Secret\" string");
    std::string username;
    if (auto it = doc.find("Username"); it != doc.end()) {
        if (!it->is_string())
            return helper_error(program, "answered with a \"Username\" that is not a string");
        username = it->get<std::string>();
    }

    credential cred;
    if (username == identity_token_username) {
        cred.identity_token = secret->get<std::string>();
    } else {
        cred.username = std::move(username);
        cred.password = secret->get<std::string>();
    }
    if (cred.empty()) return std::optional<credential>();
    return std::optional<credential>(std::move(cred));
}

} // namespace libregistry
