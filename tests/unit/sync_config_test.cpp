#include "config/sync_config.hpp"

#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

using namespace libregistry;
using namespace syncer;
namespace fs = std::filesystem;

namespace {

const std::string hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string dgst = "sha256:" + hex;

env_lookup fake_env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        const auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

const env_lookup test_env = fake_env({{"A", "alpha"},
                                      {"B", "beta"},
                                      {"A_B", "ab"},
                                      {"EMPTY", ""},
                                      {"QUAY_PASSWORD", "from-env"},
                                      {"MIRROR", "registry.example.com/mirror"},
                                      {"TAG", "stable"},
                                      {"UPPER", "Quay.io/App"}});

/// A one-line summary of a rule without its origin, so JSON and YAML variants compare equal.
std::string describe(const sync_rule& rule) {
    const auto& s = rule.source;
    std::string out = s.name() + " sel=" + std::to_string(static_cast<int>(s.selector)) + " tags=";
    for (const auto& t : s.tags)
        out += t + ",";
    out += " regex=" + s.regex + " digest=" + (s.digest ? s.digest->str() : "-") + " ->";
    for (const auto& d : rule.destinations) {
        // Appends rather than `" " + d.name()`: g++ 12 reports a false -Wrestrict on the latter.
        out.append(" ").append(d.name()).append("[");
        for (const auto& t : d.tags)
            out.append(t).append(",");
        out.append("]");
    }
    return out;
}

std::vector<std::string> describe(const std::vector<sync_rule>& rules) {
    std::vector<std::string> out;
    for (const auto& r : rules)
        out.push_back(describe(r));
    return out;
}

std::string describe(const credential_rule& rule) {
    return rule.key + " " + rule.cred.username + ":" + rule.cred.password +
           (rule.insecure ? " insecure" : "");
}

std::vector<std::string> describe(const std::vector<credential_rule>& rules) {
    std::vector<std::string> out;
    for (const auto& r : rules)
        out.push_back(describe(r));
    return out;
}

using libregistry::testing::temp_dir;

} // namespace

TEST_CASE("expand_env: valid") {
    struct expand_case {
        std::string input;
        std::string expected;
    };
    const expand_case cases[] = {
        {"", ""},
        {"plain text", "plain text"},
        {"$A", "alpha"},
        {"${A}", "alpha"},
        {"${A}x", "alphax"},
        {"$A_B", "ab"},
        {"$A/$B:1", "alpha/beta:1"},
        {"x-$A-y", "x-alpha-y"},
        {"$$", "$"},
        {"a$$b", "a$b"},
        {"$$A", "$A"},
        {"$$$A", "$alpha"},
        {"$EMPTY", ""},
        {"p${EMPTY}w", "pw"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.input);
        const auto out = expand_env(c.input, test_env, "f.yaml:3: key");
        REQUIRE_MESSAGE(out.has_value(), out.error().message);
        CHECK(*out == c.expected);
    }
}

TEST_CASE("expand_env: errors name where and what to write instead") {
    struct error_case {
        std::string input;
        std::string message;
    };
    const error_case cases[] = {
        {"$UNSET", "f.yaml:3: key: environment variable \"UNSET\" is not set"},
        {"${UNSET}x", "f.yaml:3: key: environment variable \"UNSET\" is not set"},
        {"$Ax", "f.yaml:3: key: environment variable \"Ax\" is not set"},
        {"abc$", "f.yaml:3: key: \"$\" at the end; write \"$$\" for a literal \"$\""},
        {"${A", "f.yaml:3: key: \"${\" without a closing \"}\""},
        {"${}", "f.yaml:3: key: \"${...}\" must hold a variable name"},
        {"${1A}", "f.yaml:3: key: \"${...}\" must hold a variable name"},
        {"${A-B}", "f.yaml:3: key: \"${...}\" must hold a variable name"},
        {"$-", "f.yaml:3: key: \"$\" must be followed by a variable name"},
        {"$1", "f.yaml:3: key: \"$\" must be followed by a variable name"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.input);
        const auto out = expand_env(c.input, test_env, "f.yaml:3: key");
        REQUIRE(!out.has_value());
        CHECK(out.error().code == make_error_code(errc::invalid_argument));
        CHECK_MESSAGE(out.error().message.starts_with(c.message), out.error().message);
    }
}

TEST_CASE("process_environment reads the process environment") {
    ::setenv("SYNC_CONFIG_TEST_VAR", "value", 1);
    ::unsetenv("SYNC_CONFIG_TEST_UNSET");
    const auto env = process_environment();
    CHECK(env("SYNC_CONFIG_TEST_VAR") == std::optional<std::string>("value"));
    CHECK(env("SYNC_CONFIG_TEST_UNSET") == std::nullopt);
}

TEST_CASE("format_of") {
    struct format_case {
        std::string path;
        std::optional<file_format> format;
    };
    const format_case cases[] = {
        {"images.json", file_format::json},  {"dir/images.yaml", file_format::yaml},
        {"a.b/auth.yml", file_format::yaml}, {"AUTH.JSON", file_format::json},
        {"images.txt", std::nullopt},        {"images", std::nullopt},
        {"dir.json/images", std::nullopt},   {".yaml", std::nullopt},
    };
    for (const auto& c : cases) {
        CAPTURE(c.path);
        const auto out = format_of(c.path);
        if (c.format) {
            REQUIRE(out.has_value());
            CHECK(*out == *c.format);
        } else {
            REQUIRE(!out.has_value());
            CHECK(out.error().message == c.path + ": unknown extension, expected .json, .yaml or .yml");
        }
    }
}

TEST_CASE("images file: layouts and archives as sources and destinations") {
    const auto rules = parse_images("\"oci:/in:library/alpine:3.19,3.20\": \"oci-archive:/out/b.tar.zst\"\n"
                                    "quay.io/org/app: [\"oci:/d\", \"oci:/d:mirror/app\"]\n"
                                    "\"oci:/in:app\": registry.internal/app\n",
                                    file_format::yaml, "images.yaml", test_env);
    REQUIRE(rules.has_value());
    REQUIRE(rules->size() == 3);
    const auto& first = (*rules)[0];
    CHECK(first.source.registry == "oci:/in");
    // No host and no Docker Hub `library/`: the repository as written.
    CHECK(first.source.repository == "library/alpine");
    CHECK(first.source.tags == std::vector<std::string>{"3.19", "3.20"});
    REQUIRE(first.destinations.size() == 1);
    CHECK(first.destinations[0].registry == "oci-archive:/out/b.tar.zst");
    // A bundle destination without a repository keeps the source's.
    CHECK(first.destinations[0].repository == "library/alpine");
    const auto& second = (*rules)[1];
    REQUIRE(second.destinations.size() == 2);
    CHECK(second.destinations[0].registry == "oci:/d");
    CHECK(second.destinations[0].repository == "org/app");
    CHECK(second.destinations[1].repository == "mirror/app");
    CHECK((*rules)[2].source.repository == "app");
    CHECK((*rules)[2].source.registry == "oci:/in");
}

TEST_CASE("parse_source: every form") {
    struct source_case {
        std::string input;
        std::string registry;
        std::string repository;
        tag_selector selector;
        std::vector<std::string> tags;
        std::string regex;
        std::string digest;
    };
    const source_case cases[] = {
        {"nginx", "docker.io", "library/nginx", tag_selector::all, {}, "", ""},
        {" nginx ", "docker.io", "library/nginx", tag_selector::all, {}, "", ""},
        // image-syncer took `user` for a registry here; Docker Hub is what docker means.
        {"user/repo", "docker.io", "user/repo", tag_selector::all, {}, "", ""},
        {"index.docker.io/library/busybox", "docker.io", "library/busybox", tag_selector::all, {}, "", ""},
        {"docker.io/busybox:latest",
         "docker.io",
         "library/busybox",
         tag_selector::listed,
         {"latest"},
         "",
         ""},
        {"quay.io/org/app", "quay.io", "org/app", tag_selector::all, {}, "", ""},
        {"quay.io/org/app:v1", "quay.io", "org/app", tag_selector::listed, {"v1"}, "", ""},
        {"quay.io/org/app:v1, v2 ,,v3",
         "quay.io",
         "org/app",
         tag_selector::listed,
         {"v1", "v2", "v3"},
         "",
         ""},
        {"quay.io/org/app:a,a", "quay.io", "org/app", tag_selector::listed, {"a", "a"}, "", ""},
        {"localhost:5000/app", "localhost:5000", "app", tag_selector::all, {}, "", ""},
        {"localhost:5000/app:1.0", "localhost:5000", "app", tag_selector::listed, {"1.0"}, "", ""},
        {"host.example:5000/ns/repo:a,b",
         "host.example:5000",
         "ns/repo",
         tag_selector::listed,
         {"a", "b"},
         "",
         ""},
        {"quay.io/org/app:/^v1\\.[0-9]+$/",
         "quay.io",
         "org/app",
         tag_selector::regex,
         {},
         "^v1\\.[0-9]+$",
         ""},
        {"quay.io/org/app:/a/b/", "quay.io", "org/app", tag_selector::regex, {}, "a/b", ""},
        {"host.example:5000/repo:/v@1:x/", "host.example:5000", "repo", tag_selector::regex, {}, "v@1:x", ""},
        {"quay.io/org/app@" + dgst, "quay.io", "org/app", tag_selector::digest, {}, "", dgst},
        {"localhost:5000/app@" + dgst, "localhost:5000", "app", tag_selector::digest, {}, "", dgst},
    };
    for (const auto& c : cases) {
        CAPTURE(c.input);
        const auto s = parse_source(c.input);
        REQUIRE_MESSAGE(s.has_value(), s.error().message);
        CHECK(s->registry == c.registry);
        CHECK(s->repository == c.repository);
        CHECK(s->selector == c.selector);
        CHECK(s->tags == c.tags);
        CHECK(s->regex == c.regex);
        CHECK((s->digest ? s->digest->str() : "") == c.digest);
    }
}

TEST_CASE("parse_source: errors quote the source and say what is wrong") {
    struct error_case {
        std::string input;
        std::string message; // a substring
    };
    const error_case cases[] = {
        {"", "\"\": the source is empty"},
        {"quay.io/org/app:/[/", "\"quay.io/org/app:/[/\": invalid tag regex: missing ]: ["},
        {"quay.io/org/app:/(/", "\"quay.io/org/app:/(/\": invalid tag regex: missing ): ("},
        {"quay.io/org/app:/abc", "(the closing '/' is missing)"},
        {"quay.io/org/app://", "the tag regex is empty; drop ':/' to take every tag"},
        {"quay.io/org/app:", "the tag list after ':' is empty; drop the ':' to take every tag"},
        {"quay.io/org/app: , ", "the tag list after ':' is empty"},
        {"quay.io/org/app:v1,-bad", "invalid tag \"-bad\""},
        {"quay.io/org/app:a:b", "invalid tag \"a:b\""},
        {"quay.io/Org/app", "repository name must be lowercase"},
        {"quay.io/org/app@sha256:abc", "invalid digest"},
        {"quay.io/org/app:v1@" + dgst, "a source takes tags or a digest, not both"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.input);
        const auto s = parse_source(c.input);
        REQUIRE(!s.has_value());
        CHECK(s.error().code == make_error_code(errc::invalid_argument));
        CHECK_MESSAGE(s.error().message.find(c.message) != std::string::npos, s.error().message);
        CHECK(s.error().message.starts_with("\"" + c.input + "\": "));
    }
}

TEST_CASE("parse_destination: every form") {
    struct destination_case {
        std::string input;
        std::string registry;
        std::string repository;
        std::vector<std::string> tags;
    };
    const destination_case cases[] = {
        {"quay.io/org/app", "quay.io", "org/app", {}},
        {"quay.io/org/app:v1", "quay.io", "org/app", {"v1"}},
        {"quay.io/org/app:a, b", "quay.io", "org/app", {"a", "b"}},
        {"localhost:5000/app", "localhost:5000", "app", {}},
        {"localhost:5000/app:x", "localhost:5000", "app", {"x"}},
        {"mirror", "docker.io", "library/mirror", {}},
        {"user/mirror:1", "docker.io", "user/mirror", {"1"}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.input);
        const auto d = parse_destination(c.input);
        REQUIRE_MESSAGE(d.has_value(), d.error().message);
        CHECK(d->registry == c.registry);
        CHECK(d->repository == c.repository);
        CHECK(d->tags == c.tags);
    }

    const std::pair<std::string, std::string> errors[] = {
        {"quay.io/app@" + dgst, "a destination takes tags, not a digest"},
        {"quay.io/app:/x/", "a destination takes no tag regex"},
        {"quay.io/app:", "the tag list after ':' is empty"},
        {"quay.io/APP", "repository name must be lowercase"},
        {"quay.io/app:a,b c", "invalid tag \"b c\""},
        {"  ", "the destination is empty"},
    };
    for (const auto& [input, message] : errors) {
        const auto shown_input = input; // clang 14 cannot capture a structured binding
        CAPTURE(shown_input);
        const auto d = parse_destination(input);
        REQUIRE(!d.has_value());
        CHECK_MESSAGE(d.error().message.find(message) != std::string::npos, d.error().message);
    }
}

TEST_CASE("parse_images: YAML and JSON give the same rules") {
    const std::string yaml = "# mirrors\n"
                             "nginx: quay.io/mirror/nginx\n"
                             "\"quay.io/org/app:v1,v2\":\n"
                             "  - registry.example.com/app\n"
                             "  - registry.example.com/app:a,b\n"
                             "  - registry.example.com/app   # the same again: dropped\n"
                             "quay.io/org/tool:/^v[0-9]+$/: localhost:5000/tool\n"
                             "quay.io/org/base@" +
                             dgst +
                             ": [localhost:5000/base:pinned, localhost:5000/base]\n"
                             "localhost:5000/src:1.0: $MIRROR/src:${TAG}\n"
                             "user/repo: \"$$HOME/x\"\n";
    const std::string json = "{\n"
                             "  \"nginx\": \"quay.io/mirror/nginx\",\n"
                             "  \"quay.io/org/app:v1,v2\": [\n"
                             "    \"registry.example.com/app\",\n"
                             "    \"registry.example.com/app:a,b\",\n"
                             "    \"registry.example.com/app\"\n"
                             "  ],\n"
                             "  \"quay.io/org/tool:/^v[0-9]+$/\": \"localhost:5000/tool\",\n"
                             "  \"quay.io/org/base@" +
                             dgst +
                             "\": [\"localhost:5000/base:pinned\", \"localhost:5000/base\"],\n"
                             "  \"localhost:5000/src:1.0\": \"$MIRROR/src:${TAG}\",\n"
                             "  \"user/repo\": \"$$HOME/x\"\n"
                             "}\n";
    const std::vector<std::string> expected = {
        "docker.io/library/nginx sel=0 tags= regex= digest=- -> quay.io/mirror/nginx[]",
        "quay.io/org/app sel=1 tags=v1,v2, regex= digest=- -> registry.example.com/app[] "
        "registry.example.com/app[a,b,]",
        "quay.io/org/tool sel=2 tags= regex=^v[0-9]+$ digest=- -> localhost:5000/tool[]",
        "quay.io/org/base sel=3 tags= regex= digest=" + dgst +
            " -> localhost:5000/base[pinned,] localhost:5000/base[]",
        "localhost:5000/src sel=1 tags=1.0, regex= digest=- -> registry.example.com/mirror/src[stable,]",
        // `$$HOME` is a literal `$HOME`, which is not a valid repository: it must not be expanded.
    };

    // The last entry is invalid on purpose once `$$` is taken literally; check that first.
    const auto yaml_bad = parse_images(yaml, file_format::yaml, "images.yaml", test_env);
    REQUIRE(!yaml_bad.has_value());
    CHECK(yaml_bad.error().message.starts_with(
        "images.yaml:10: \"user/repo\": destination \"$$HOME/x\" (expanded to \"$HOME/x\"): "));
    const auto json_bad = parse_images(json, file_format::json, "images.json", test_env);
    REQUIRE(!json_bad.has_value());
    CHECK(json_bad.error().message.starts_with(
        "images.json:11: \"user/repo\": destination \"$$HOME/x\" (expanded to \"$HOME/x\"): "));

    const auto strip_last = [](const std::string& text, std::string_view last_line) {
        auto out = text;
        out.erase(out.find(last_line), last_line.size());
        return out;
    };
    const auto good_yaml = strip_last(yaml, "user/repo: \"$$HOME/x\"\n");
    auto good_json = strip_last(json, ",\n  \"user/repo\": \"$$HOME/x\"");
    const auto from_yaml = parse_images(good_yaml, file_format::yaml, "images.yaml", test_env);
    const auto from_json = parse_images(good_json, file_format::json, "images.json", test_env);
    REQUIRE_MESSAGE(from_yaml.has_value(), from_yaml.error().message);
    REQUIRE_MESSAGE(from_json.has_value(), from_json.error().message);
    CHECK(describe(*from_yaml) == expected);
    CHECK(describe(*from_json) == expected);

    std::vector<std::string> origins;
    for (const auto& rule : *from_yaml)
        origins.push_back(rule.origin);
    CHECK(origins == std::vector<std::string>{"images.yaml:2", "images.yaml:3", "images.yaml:7",
                                              "images.yaml:8", "images.yaml:9"});
    CHECK(from_json->front().origin == "images.json:2");
}

TEST_CASE("parse_images: empty files and null documents have no rules") {
    for (const std::string text : {"", "\n", "# nothing yet\n", "~\n", "null\n", "{}\n"}) {
        CAPTURE(text);
        const auto rules = parse_images(text, file_format::yaml, "images.yaml", test_env);
        REQUIRE_MESSAGE(rules.has_value(), rules.error().message);
        CHECK(rules->empty());
    }
    for (const std::string text : {"", "{}", "null"}) {
        const auto rules = parse_images(text, file_format::json, "images.json", test_env);
        REQUIRE(rules.has_value());
        CHECK(rules->empty());
    }
}

TEST_CASE("parse_auth: YAML and JSON give the same rules, and prefix matching picks between them") {
    const std::string yaml = "quay.io:\n"
                             "  username: alice\n"
                             "  password: $QUAY_PASSWORD\n"
                             "quay.io/org:\n"
                             "  username: bob\n"
                             "  password: \"p$$ss\"\n"
                             "https://index.docker.io/v1/:\n"
                             "  username: hubuser\n"
                             "  password: 12345\n"
                             "localhost:5000:\n"
                             "  insecure: true\n"
                             "Registry.Example.com/team/:\n"
                             "  username: ${A}\n"
                             "  password: ''\n"
                             "  insecure: false\n";
    const std::string json =
        "{\n"
        "  \"quay.io\": {\"username\": \"alice\", \"password\": \"$QUAY_PASSWORD\"},\n"
        "  \"quay.io/org\": {\"username\": \"bob\", \"password\": \"p$$ss\"},\n"
        "  \"https://index.docker.io/v1/\": {\"username\": \"hubuser\", \"password\": \"12345\"},\n"
        "  \"localhost:5000\": {\"insecure\": true},\n"
        "  \"Registry.Example.com/team/\": {\"username\": \"${A}\", \"password\": \"\",\n"
        "                                 \"insecure\": false}\n"
        "}\n";
    const std::vector<std::string> expected = {
        "quay.io alice:from-env",           "quay.io/org bob:p$ss",
        "docker.io hubuser:12345",          "localhost:5000 : insecure",
        "Registry.Example.com/team alpha:",
    };
    const auto from_yaml = parse_auth(yaml, file_format::yaml, "auth.yaml", test_env);
    const auto from_json = parse_auth(json, file_format::json, "auth.json", test_env);
    REQUIRE_MESSAGE(from_yaml.has_value(), from_yaml.error().message);
    REQUIRE_MESSAGE(from_json.has_value(), from_json.error().message);
    CHECK(describe(*from_yaml) == expected);
    CHECK(describe(*from_json) == expected);
    CHECK((*from_yaml)[1].origin == "auth.yaml:4");
    CHECK((*from_json)[1].origin == "auth.json:3");

    struct match_case {
        std::string registry;
        std::string repository;
        std::string user; // "" for no match, "-" for the rule with no username
    };
    const match_case cases[] = {
        {"quay.io", "org/app", "bob"},
        {"quay.io", "org", "bob"},
        {"quay.io", "organisation/app", "alice"},
        {"quay.io", "other", "alice"},
        {"docker.io", "library/nginx", "hubuser"},
        {"localhost:5000", "x", "-"},
        {"registry.example.com", "team/app", "alpha"},
        {"registry.example.com", "teams/app", ""},
        {"ghcr.io", "org/app", ""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.registry);
        CAPTURE(c.repository);
        const auto* rule = match_credential_rule(*from_yaml, c.registry, c.repository);
        if (c.user.empty()) {
            CHECK(rule == nullptr);
            continue;
        }
        REQUIRE(rule != nullptr);
        CHECK(rule->cred.username == (c.user == "-" ? "" : c.user));
    }
    CHECK(registry_is_insecure(*from_yaml, "localhost:5000"));
    CHECK(!registry_is_insecure(*from_yaml, "quay.io"));
    CHECK(!registry_is_insecure(*from_yaml, "registry.example.com"));
}

TEST_CASE("parse_config: auth and images together, either optional") {
    const std::string yaml = "auth:\n"
                             "  quay.io:\n"
                             "    username: alice\n"
                             "    password: secret\n"
                             "images:\n"
                             "  nginx: quay.io/mirror/nginx\n";
    const std::string json =
        "{\"auth\": {\"quay.io\": {\"username\": \"alice\", \"password\": \"secret\"}},\n"
        " \"images\": {\"nginx\": \"quay.io/mirror/nginx\"}}\n";
    for (const auto& [text, format, name] : {std::tuple{yaml, file_format::yaml, "config.yaml"},
                                             std::tuple{json, file_format::json, "config.json"}}) {
        const auto shown_name = name; // clang 14 cannot capture a structured binding
        CAPTURE(shown_name);
        const auto config = parse_config(text, format, name, test_env);
        REQUIRE_MESSAGE(config.has_value(), config.error().message);
        CHECK(describe(config->auth) == std::vector<std::string>{"quay.io alice:secret"});
        CHECK(describe(config->images) ==
              std::vector<std::string>{
                  "docker.io/library/nginx sel=0 tags= regex= digest=- -> quay.io/mirror/nginx[]"});
    }

    const auto only_images = parse_config("images:\n  nginx: m\n", file_format::yaml, "c.yaml", test_env);
    REQUIRE(only_images.has_value());
    CHECK(only_images->auth.empty());
    CHECK(only_images->images.size() == 1);
    const auto only_auth = parse_config("auth:\nimages: {}\n", file_format::yaml, "c.yaml", test_env);
    REQUIRE(only_auth.has_value());
    CHECK(only_auth->auth.empty());
    CHECK(only_auth->images.empty());
    const auto empty = parse_config("", file_format::yaml, "c.yaml", test_env);
    REQUIRE(empty.has_value());
    CHECK(empty->images.empty());
}

TEST_CASE("bad config files: the message names file, line, key and what is expected") {
    enum class kind { auth, images, config };
    struct bad_case {
        kind what;
        std::string name;
        std::string text;
        std::string message; // a substring of the error
    };
    const bad_case cases[] = {
        // auth
        {kind::auth, "auth.json",
         "{\n  \"quay.io\": {\"username\": \"a\", \"password\": \"b\", \"insecure\": \"yes\"}\n}\n",
         "auth.json:2: \"quay.io\": \"insecure\" must be true or false"},
        {kind::auth, "auth.json", "{\"quay.io\": {\"insecure\": \"true\"}}",
         "auth.json:1: \"quay.io\": \"insecure\" must be true or false"},
        {kind::auth, "auth.yaml", "quay.io:\n  insecure: yes\n",
         "auth.yaml:2: \"quay.io\": \"insecure\" must be true or false"},
        {kind::auth, "auth.yaml", "quay.io:\n  insecure:\n",
         "auth.yaml:2: \"quay.io\": \"insecure\" must be true or false"},
        {kind::auth, "auth.yaml", "quay.io:\n  username: a\n  user: b\n",
         "auth.yaml:3: \"quay.io\": unknown key \"user\" (expected username, password or insecure)"},
        {kind::auth, "auth.yaml", "quay.io: alice\n",
         "auth.yaml:1: \"quay.io\": expected a map with username, password and/or insecure"},
        {kind::auth, "auth.yaml", "quay.io:\n", "auth.yaml:1: \"quay.io\": expected a map"},
        {kind::auth, "auth.yaml", "quay.io:\n  username: a\n",
         "auth.yaml:1: \"quay.io\": \"username\" is set but \"password\" is not"},
        {kind::auth, "auth.yaml", "quay.io:\n  password: a\n",
         "auth.yaml:1: \"quay.io\": \"password\" is set but \"username\" is not"},
        {kind::auth, "auth.yaml", "quay.io:\n  username: a\n  password: $NOPE\n",
         "auth.yaml:3: \"quay.io\": \"password\": environment variable \"NOPE\" is not set"},
        {kind::auth, "auth.yaml", "quay.io:\n  username: [a]\n  password: b\n",
         "auth.yaml:2: \"quay.io\": \"username\" must be a string"},
        {kind::auth, "auth.yaml",
         "docker.io:\n  username: a\n  password: b\nindex.docker.io:\n  username: c\n  password: d\n",
         "auth.yaml:4: \"index.docker.io\" names the same registry as \"docker.io\" on line 1"},
        {kind::auth, "auth.yaml", "quay.io: {insecure: true}\nquay.io: {insecure: false}\n",
         "auth.yaml:2: duplicate key \"quay.io\" (first on line 1)"},
        {kind::auth, "auth.yaml", "quay.io:\n  insecure: true\n  insecure: false\n",
         "auth.yaml:3: duplicate key \"insecure\" (first on line 2)"},
        {kind::auth, "auth.yaml", "- quay.io\n", "auth.yaml:1: expected a map of registry[/namespace]"},
        {kind::auth, "auth.yaml", "\"quay.io//x\": {insecure: true}\n",
         "auth.yaml:1: registry key \"quay.io//x\" has an empty path component"},
        {kind::auth, "auth.yaml", "\"/x\": {insecure: true}\n",
         "auth.yaml:1: registry key \"/x\" names no registry host"},
        {kind::auth, "auth.yaml", "\n\nquay.io: {username: a\n", "auth.yaml:4: invalid YAML: "},
        {kind::auth, "auth.json", "{\"quay.io\": {\"insecure\": true}\n", "auth.json:2: invalid JSON: "},
        {kind::auth, "auth.json", "quay.io:\n  insecure: true\n", "auth.json:1: invalid JSON: "},
        // JSON says what type a value has: a number or a boolean is not a string (YAML stays lenient:
        // image-syncer reads `password: 12345` there as a string).
        {kind::auth, "auth.json", "{\n  \"quay.io\": {\"username\": \"a\",\n    \"password\": 5}\n}\n",
         "auth.json:3: \"quay.io\": \"password\" must be a string (a JSON number or boolean here; quote it)"},
        {kind::auth, "auth.json", "{\"quay.io\": {\"username\": true, \"password\": \"b\"}}",
         "auth.json:1: \"quay.io\": \"username\" must be a string"},
        {kind::images, "images.json", "{\n  \"src/repo\": 42\n}\n",
         "images.json:2: \"src/repo\": a destination must be a string (a JSON number or boolean here; quote "
         "it)"},
        {kind::images, "images.json", "{\"src/repo\": [\"a/b\", false]}",
         "images.json:1: \"src/repo\": a destination must be a string"},
        {kind::config, "config.json", "{\"images\": {\n\"src/repo\": 4.5}}",
         "config.json:2: \"src/repo\": a destination must be a string"},
        // images
        {kind::images, "images.yaml", "nginx: a\n\n# c\nquay.io/org/app:/[/: b\n",
         "images.yaml:4: \"quay.io/org/app:/[/\": invalid tag regex: missing ]: ["},
        {kind::images, "images.yaml", "quay.io/org/app:\n",
         "images.yaml:1: source \"quay.io/org/app\" has an empty destination"},
        {kind::images, "images.yaml", "nginx: \"\"\n",
         "images.yaml:1: source \"nginx\" has an empty destination"},
        {kind::images, "images.yaml", "nginx:\n  - a\n  - \"\"\n",
         "images.yaml:3: source \"nginx\" has an empty destination"},
        {kind::images, "images.yaml", "nginx: $EMPTY\n",
         "images.yaml:1: source \"nginx\" has an empty destination"},
        {kind::images, "images.json", "{\"nginx\": \"\"}",
         "images.json:1: source \"nginx\" has an empty destination"},
        {kind::images, "images.yaml", "nginx: []\n", "images.yaml:1: source \"nginx\" has no destinations"},
        {kind::images, "images.yaml", "\"oci:/tmp/layout\": quay.io/x\n",
         "images.yaml:1: \"oci:/tmp/layout\": a layout or archive source names its repository: "
         "oci:/tmp/layout:REPOSITORY[:TAGS|@DIGEST|:/REGEX/]"},
        {kind::images, "images.yaml", "quay.io/x: \"dir:/tmp/x\"\n",
         "images.yaml:1: \"quay.io/x\": destination \"dir:/tmp/x\": \"dir:\" is a transport syncer does "
         "not have"},
        {kind::images, "images.yaml", "quay.io/x: \"oci-archive::y\"\n",
         "images.yaml:1: \"quay.io/x\": destination \"oci-archive::y\": oci-archive: needs a path"},
        {kind::images, "images.yaml", "\"nginx:a,b\": \"m:x,y,z\"\n",
         "images.yaml:1: \"nginx:a,b\": destination \"m:x,y,z\" lists 3 tags but the source lists 2 tags"},
        {kind::images, "images.yaml", "\"nginx:a,b\": \"m:x\"\n",
         "images.yaml:1: \"nginx:a,b\": destination \"m:x\" lists 1 tag but the source lists 2 tags"},
        {kind::images, "images.yaml", "nginx: m:x\n",
         "images.yaml:1: \"nginx\": destination \"m:x\" has a tag, but the source takes every tag"},
        {kind::images, "images.yaml", "\"nginx:/^1/\":\n  - m\n  - m:x\n",
         "images.yaml:3: \"nginx:/^1/\": destination \"m:x\" has a tag, but the source takes every tag its "
         "regex "
         "matches"},
        {kind::images, "images.yaml", "nginx@" + dgst + ": m:a,b\n",
         "images.yaml:1: \"nginx@" + dgst + "\": destination \"m:a,b\" lists 2 tags for a single digest"},
        {kind::images, "images.yaml", "nginx: $DEST/x\n",
         "images.yaml:1: \"nginx\": destination \"$DEST/x\": environment variable \"DEST\" is not set"},
        {kind::images, "images.yaml", "nginx: ${BAD/x\n",
         "images.yaml:1: \"nginx\": destination \"${BAD/x\": \"${\" without a closing \"}\""},
        {kind::images, "images.yaml", "nginx: quay.io/App\n",
         "images.yaml:1: \"nginx\": destination \"quay.io/App\": invalid reference"},
        {kind::images, "images.yaml", "nginx: $UPPER\n",
         "images.yaml:1: \"nginx\": destination \"$UPPER\" (expanded to \"Quay.io/App\"): invalid reference"},
        {kind::images, "images.yaml", "nginx: {a: b}\n",
         "images.yaml:1: \"nginx\": unknown key \"a\" (expected destinations, include, exclude, semver, "
         "latest, platforms, prune or referrers)"},
        {kind::images, "images.yaml", "nginx:\n  destinations: {a: b}\n",
         "images.yaml:2: \"nginx\": expected a destination or a list of destinations"},
        // the mapping form
        {kind::images, "images.yaml", "nginx:\n  latest: 3\n",
         "images.yaml:1: \"nginx\": no \"destinations\"; a rule written as a map needs destinations"},
        {kind::images, "images.yaml", "nginx:\n  destinations: [m]\n  destination: n\n",
         "images.yaml:3: \"nginx\": give \"destinations\" or \"destination\", not both"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  include: [latest, \"/[/\"]\n",
         "images.yaml:3: \"nginx\": \"include\": \"/[/\": invalid tag regex: missing ]: ["},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  exclude: [\"-rc\"]\n",
         "images.yaml:3: \"nginx\": \"exclude\": \"-rc\" is neither a tag"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  exclude: []\n",
         "images.yaml:3: \"nginx\": \"exclude\" must be a tag, a /regex/, or a non-empty list"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  include: {a: b}\n",
         "images.yaml:3: \"nginx\": \"include\" must be a tag, a /regex/"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  semver: \">=1.x.4\"\n",
         "images.yaml:3: \"nginx\": \"semver\": semver comparator \">=1.x.4\": a number after a wildcard"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  semver: [1]\n",
         "images.yaml:3: \"nginx\": \"semver\" must be a semver range"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  latest: 0\n",
         "images.yaml:3: \"nginx\": \"latest\" must be a whole number from 1 to 1000000"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  latest: -2\n",
         "images.yaml:3: \"nginx\": \"latest\" must be a whole number"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  latest:\n",
         "images.yaml:3: \"nginx\": \"latest\" must be a whole number"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  platforms: [linux]\n",
         "images.yaml:3: \"nginx\": \"platforms\": "},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  prune: maybe\n",
         "images.yaml:3: \"nginx\": \"prune\" must be true or false"},
        // referrers
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  referrers: maybe\n",
         "images.yaml:3: \"nginx\": \"referrers\" must be true, false, or a map with include, exclude and/or "
         "depth"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  referrers:\n",
         "images.yaml:3: \"nginx\": \"referrers\" must be true, false"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  referrers: [sig]\n",
         "images.yaml:3: \"nginx\": \"referrers\" must be true, false"},
        {kind::images, "images.json", "{\"nginx\": {\"destination\": \"m\",\n \"referrers\": \"false\"}}",
         "images.json:2: \"nginx\": \"referrers\" must be true, false"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  referrers:\n    depth: 0\n",
         "images.yaml:4: \"nginx\": \"referrers\": \"depth\" must be a whole number from 1 to 100"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  referrers:\n    depth: 101\n",
         "images.yaml:4: \"nginx\": \"referrers\": \"depth\" must be a whole number from 1 to 100"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  referrers: {depth: deep}\n",
         "images.yaml:3: \"nginx\": \"referrers\": \"depth\" must be a whole number"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  referrers: {depth: [2]}\n",
         "images.yaml:3: \"nginx\": \"referrers\": \"depth\" must be a whole number"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  referrers:\n    include: [\"/[/\"]\n",
         "images.yaml:4: \"nginx\": \"referrers\": \"include\": "},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  referrers:\n    exclude: []\n",
         "images.yaml:4: \"nginx\": \"referrers\": \"exclude\" must be an artifact type, a /regex/, or a "
         "non-empty list of them (strings)"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  referrers:\n    include: {a: b}\n",
         "images.yaml:4: \"nginx\": \"referrers\": \"include\" must be an artifact type"},
        {kind::images, "images.json",
         "{\"nginx\": {\"destination\": \"m\",\n \"referrers\": {\n\"include\": [1]}}}",
         "images.json:3: \"nginx\": \"referrers\": \"include\" must be an artifact type"},
        {kind::images, "images.yaml",
         "nginx:\n  destination: m\n  referrers:\n    depth: 2\n    types: [x]\n",
         "images.yaml:5: \"nginx\": \"referrers\": unknown key \"types\" (expected include, exclude or "
         "depth)"},
        {kind::images, "images.yaml", "nginx:\n  destination: m\n  referrers:\n    depth: 2\n    depth: 3\n",
         "images.yaml:5: duplicate key \"depth\" (first on line 4)"},
        {kind::images, "images.yaml", "\"nginx:1.25,1.26\":\n  destination: m\n  latest: 1\n",
         "images.yaml:3: \"nginx:1.25,1.26\": \"latest\" selects among the tags a repository lists, but this "
         "source names its tags; write the source without the tag list"},
        {kind::images, "images.yaml",
         "nginx@" + dgst + ":\n  destination: m\n  platforms: linux/amd64\n  exclude: x\n",
         "images.yaml:4: \"nginx@" + dgst +
             "\": \"exclude\" selects among the tags a repository lists, but "
             "this source names a digest; write the source without the digest"},
        {kind::images, "images.yaml", "nginx@" + dgst + ":\n  destination: m\n  prune: true\n",
         "images.yaml:3: \"nginx@" + dgst + "\": \"prune\" needs a source that selects tags"},
        {kind::images, "images.yaml", "nginx:\n  destination: m:x\n  latest: 2\n",
         "images.yaml:2: \"nginx\": destination \"m:x\" has a tag, but the source takes every tag"},
        {kind::images, "images.json", "{\"nginx\": {\"destination\": \"m\",\n \"latest\": \"x\"}}",
         "images.json:2: \"nginx\": \"latest\" must be a whole number"},
        {kind::images, "images.json", "{\"nginx\": {\"destination\": \"m\",\n \"include\": [true]}}",
         "images.json:2: \"nginx\": \"include\" must be a tag, a /regex/, or a non-empty list of them "
         "(strings)"},
        {kind::images, "images.json", "{\"nginx\": {\"destinations\": [\"m\"],\n \"prune\": \"true\"}}",
         "images.json:2: \"nginx\": \"prune\" must be true or false"},
        {kind::images, "images.yaml", "nginx:\n  - m\n  - [a]\n",
         "images.yaml:3: \"nginx\": a destination must be a string"},
        {kind::images, "images.yaml", "\"quay.io/org/app:v1@" + dgst + "\": m\n",
         "images.yaml:1: \"quay.io/org/app:v1@" + dgst + "\": a source takes tags or a digest, not both"},
        {kind::images, "images.yaml", "\"Nginx\": m\n", "images.yaml:1: \"Nginx\": invalid reference"},
        {kind::images, "images.yaml", "a: b\n---\nc: d\n", "images.yaml:2: a second YAML document"},
        // yaml-cpp 0.7's LoadAll loops forever on these (found by fuzz_config).
        {kind::images, "images.yaml", ",a\n", "images.yaml:1: invalid YAML: unexpected ','"},
        {kind::auth, "auth.yaml", "---\n, quay.io: {}\n", "auth.yaml:2: invalid YAML: unexpected ','"},
        {kind::images, "images.yaml", "nginx: a\nnginx: b\n",
         "images.yaml:2: duplicate key \"nginx\" (first on line 1)"},
        {kind::images, "images.yaml", "just a string\n",
         "images.yaml:1: expected a map of source -> destination"},
        {kind::images, "images.yaml", "[a: b]: c\n", "images.yaml:1: a map key must be a string"},
        // config
        {kind::config, "config.yaml", "auth: {}\nimage: {}\n",
         "config.yaml:2: unknown key \"image\" (expected \"auth\" or \"images\")"},
        {kind::config, "config.yaml", "images:\n  nginx:\n",
         "config.yaml:2: source \"nginx\" has an empty destination"},
        {kind::config, "config.json", "{\n \"images\": {\n  \"nginx\": \"a:b\"\n }\n}\n",
         "config.json:3: \"nginx\": destination \"a:b\" has a tag"},
        {kind::config, "config.yaml", "auth:\n  quay.io:\n    insecure: 1\n",
         "config.yaml:3: \"quay.io\": \"insecure\" must be true or false"},
        {kind::config, "config.yaml", "[]\n",
         "config.yaml:1: expected a map with \"auth\" and/or \"images\""},
        {kind::config, "config.yaml", "images: [a]\n",
         "config.yaml:1: expected a map of source -> destination"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CAPTURE(c.text);
        const auto format = *format_of(c.name);
        std::optional<error> failure;
        switch (c.what) {
        case kind::auth:
            if (auto r = parse_auth(c.text, format, c.name, test_env); !r) failure = r.error();
            break;
        case kind::images:
            if (auto r = parse_images(c.text, format, c.name, test_env); !r) failure = r.error();
            break;
        case kind::config:
            if (auto r = parse_config(c.text, format, c.name, test_env); !r) failure = r.error();
            break;
        }
        REQUIRE(failure.has_value());
        CHECK(failure->code == make_error_code(errc::invalid_argument));
        CHECK_MESSAGE(failure->message.find(c.message) != std::string::npos, failure->message);
        CHECK(failure->message.starts_with(c.name + ":"));
    }
}

TEST_CASE("auth errors never show the password") {
    const std::string cases[] = {
        "quay.io:\n  username: a\n  password: hunter2$\n",
        "quay.io:\n  username: a\n  password: hunter2${x\n",
        "quay.io:\n  username: a\n  password: hunter2${x-y}\n",
        "quay.io:\n  username: a\n  password: hunter2$-\n",
        "quay.io:\n  username: a\n  password: hunter2\n  insecure: maybe\n",
    };
    for (const auto& text : cases) {
        CAPTURE(text);
        const auto rules = parse_auth(text, file_format::yaml, "auth.yaml", test_env);
        REQUIRE(!rules.has_value());
        CHECK(rules.error().message.find("hunter2") == std::string::npos);
        CHECK(rules.error().message.starts_with("auth.yaml:"));
    }
}

TEST_CASE("load_*_file: by extension, with the path in messages") {
    temp_dir dir{"sync_config_test"};
    const auto images_yml = dir.write("images.yml", "nginx: quay.io/mirror/nginx\n");
    const auto images_json = dir.write("images.json", "{\"nginx\": \"quay.io/mirror/nginx\"}");
    const auto auth_yaml = dir.write("auth.yaml", "quay.io:\n  username: a\n  password: b\n");
    const auto config_json = dir.write("config.json", "{\"images\": {\"nginx\": \"m\"}, \"auth\": {}}");
    const auto images_txt = dir.write("images.txt", "nginx: m\n");
    const auto bad = dir.write("bad.yaml", "nginx:\n");

    const auto yml = load_images_file(images_yml, test_env);
    const auto js = load_images_file(images_json, test_env);
    REQUIRE_MESSAGE(yml.has_value(), yml.error().message);
    REQUIRE_MESSAGE(js.has_value(), js.error().message);
    CHECK(describe(*yml) == describe(*js));
    CHECK(yml->front().origin == images_yml + ":1");

    const auto auth = load_auth_file(auth_yaml, test_env);
    REQUIRE(auth.has_value());
    CHECK(describe(*auth) == std::vector<std::string>{"quay.io a:b"});

    const auto config = load_config_file(config_json, test_env);
    REQUIRE(config.has_value());
    CHECK(config->images.size() == 1);

    const auto txt = load_images_file(images_txt, test_env);
    REQUIRE(!txt.has_value());
    CHECK(txt.error().message == images_txt + ": unknown extension, expected .json, .yaml or .yml");

    const auto missing =
        load_auth_file((fs::path(images_yml).parent_path() / "missing.yaml").string(), test_env);
    REQUIRE(!missing.has_value());
    CHECK(missing.error().message.find("missing.yaml: cannot read: ") != std::string::npos);

    const auto broken = load_images_file(bad, test_env);
    REQUIRE(!broken.has_value());
    CHECK(broken.error().message == bad + ":1: source \"nginx\" has an empty destination");
}

TEST_CASE("render_images: loads again as the same items") {
    const auto ref = [](std::string text) {
        auto r = parse_reference(text);
        REQUIRE_MESSAGE(r.has_value(), r.error().message);
        return *r;
    };
    const std::vector<sync_item> items = {
        {ref("quay.io/org/app:v1"), ref("registry.example.com/app:v1"), "images.yaml:1"},
        {ref("quay.io/org/app:v1"), ref("registry.example.com/other:renamed"), "images.yaml:1"},
        {ref("quay.io/org/app:v2"), ref("registry.example.com/app:v2"), "images.yaml:1"},
        {ref("nginx:1.25"), ref("localhost:5000/nginx:1.25"), "images.yaml:2"},
        {ref("quay.io/org/base@" + dgst), ref("localhost:5000/base@" + dgst), "images.yaml:3"},
        {ref("quay.io/org/base@" + dgst), ref("localhost:5000/base:pinned"), "images.yaml:3"},
        // A repeat renders once.
        {ref("quay.io/org/app:v1"), ref("registry.example.com/app:v1"), "images.yaml:1"},
    };
    std::vector<sync_item> unique(items.begin(), items.end() - 1);

    for (const auto format : {file_format::yaml, file_format::json}) {
        const auto text = render_images(items, format);
        CAPTURE(text);
        const auto rules = parse_images(text, format, "failed", test_env);
        REQUIRE_MESSAGE(rules.has_value(), rules.error().message);
        CHECK(rules->size() == 4);
        const auto again = expand_rules(*rules, {});
        REQUIRE_MESSAGE(again.has_value(), again.error().message);
        REQUIRE(again->size() == unique.size());
        for (std::size_t i = 0; i < unique.size(); ++i) {
            CAPTURE(i);
            CHECK((*again)[i].source == unique[i].source);
            CHECK((*again)[i].destination == unique[i].destination);
        }
    }

    CHECK(render_images({}, file_format::json) == "{}\n");
    CHECK(render_images({}, file_format::yaml) == "{}\n");
    const auto empty = parse_images(render_images({}, file_format::yaml), file_format::yaml, "x", test_env);
    REQUIRE(empty.has_value());
    CHECK(empty->empty());

    const auto json = render_images({items[0], items[1]}, file_format::json);
    CHECK(json == "{\n  \"quay.io/org/app:v1\": [\n    \"registry.example.com/app:v1\",\n"
                  "    \"registry.example.com/other:renamed\"\n  ]\n}\n");
}

// Regression: yaml-cpp read `"e/f": }` in a .json file as a null destination instead of a syntax error.
TEST_CASE("a .json file must be valid JSON, with the line of the first error") {
    const auto bad =
        parse_images("{\n  \"a/b\": \"c/d\",\n  \"e/f\": }\n", file_format::json, "images.json", test_env);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().message.find("images.json:3: invalid JSON: ") == 0);
    const auto good = parse_images("{\"a/b\": \"c/d\"}", file_format::json, "images.json", test_env);
    REQUIRE(good.has_value());
    CHECK(good->size() == 1);
}

TEST_CASE("parse_images: the mapping form, in YAML and JSON, with every key") {
    const std::string yaml =
        "quay.io/org/app:\n"
        "  destinations: [mirror.example/org/app, $MIRROR/app]\n"
        "  include: [latest, \"/^v?1\\\\./\"]\n"
        "  exclude: \"/-rc/\"\n"
        "  semver: \">=1.4 <2\"\n"
        "  latest: 20\n"
        "  platforms: [linux/amd64, linux/arm64/v8]\n"
        "  prune: true\n"
        "\"quay.io/org/tool:/^v/\":\n"
        "  destination: mirror.example/tool\n"
        "\"quay.io/org/base:1.0\": {destination: mirror.example/base, platforms: linux/arm64, "
        "prune: false}\n"
        "nginx: mirror.example/nginx\n";
    const std::string json =
        "{\n"
        "  \"quay.io/org/app\": {\n"
        "    \"destinations\": [\"mirror.example/org/app\", \"$MIRROR/app\"],\n"
        "    \"include\": [\"latest\", \"/^v?1\\\\./\"],\n"
        "    \"exclude\": [\"/-rc/\"],\n"
        "    \"semver\": \">=1.4 <2\",\n"
        "    \"latest\": 20,\n"
        "    \"platforms\": [\"linux/amd64\", \"linux/arm64/v8\"],\n"
        "    \"prune\": true\n"
        "  },\n"
        "  \"quay.io/org/tool:/^v/\": {\"destination\": \"mirror.example/tool\"},\n"
        "  \"quay.io/org/base:1.0\": {\"destination\": \"mirror.example/base\", \"platforms\": "
        "\"linux/arm64\", \"prune\": false},\n"
        "  \"nginx\": \"mirror.example/nginx\"\n"
        "}\n";
    for (const auto& [text, format, name] : {std::tuple{yaml, file_format::yaml, "images.yaml"},
                                             std::tuple{json, file_format::json, "images.json"}}) {
        const auto shown_name = name; // clang 14 cannot capture a structured binding
        CAPTURE(shown_name);
        const auto rules = parse_images(text, format, name, test_env);
        REQUIRE_MESSAGE(rules.has_value(), rules.error().message);
        REQUIRE(rules->size() == 4);
        const auto& app = (*rules)[0];
        CHECK(describe(app) == "quay.io/org/app sel=0 tags= regex= digest=- -> mirror.example/org/app[] "
                               "registry.example.com/mirror/app[]");
        CHECK(app.policy.include == std::vector<std::string>{"latest", "/^v?1\\./"});
        CHECK(app.policy.exclude == std::vector<std::string>{"/-rc/"});
        CHECK(app.policy.semver == ">=1.4 <2");
        CHECK(app.policy.latest == std::optional<std::size_t>(20));
        REQUIRE(app.platforms.size() == 2);
        CHECK(app.platforms[1].str() == "linux/arm64/v8");
        CHECK(app.prune);
        CHECK(app.origin == (format == file_format::yaml ? "images.yaml:1" : "images.json:2"));
        CHECK(describe((*rules)[1]) ==
              "quay.io/org/tool sel=2 tags= regex=^v digest=- -> mirror.example/tool[]");
        CHECK((*rules)[1].policy.empty());
        CHECK((*rules)[2].platforms.size() == 1);
        CHECK_FALSE((*rules)[2].prune);
        // The string form is unchanged: no policy, no platforms, no prune.
        CHECK((*rules)[3].policy.empty());
        CHECK((*rules)[3].platforms.empty());
        CHECK_FALSE((*rules)[3].prune);
    }
}

TEST_CASE("parse_images: referrers per rule, in YAML and JSON; a rule without the key takes the run's") {
    const std::string yaml = "quay.io/org/app:\n"
                             "  destination: mirror.example/app\n"
                             "  referrers: false\n"
                             "quay.io/org/signed:\n"
                             "  destination: mirror.example/signed\n"
                             "  referrers: true\n"
                             "\"quay.io/org/sbom:1.0\":\n"
                             "  destination: mirror.example/sbom\n"
                             "  referrers:\n"
                             "    include: [\"/cosign/\", application/spdx+json]\n"
                             "    exclude: application/vnd.in-toto+json\n"
                             "    depth: 2\n"
                             "\"quay.io/org/pinned@" +
                             dgst +
                             "\": {destination: mirror.example/pinned, referrers: {}}\n"
                             "quay.io/org/plain: {destination: mirror.example/plain}\n"
                             "nginx: mirror.example/nginx\n";
    const std::string json =
        "{\n"
        "  \"quay.io/org/app\": {\"destination\": \"mirror.example/app\", \"referrers\": false},\n"
        "  \"quay.io/org/signed\": {\"destination\": \"mirror.example/signed\", "
        "\"referrers\": true},\n"
        "  \"quay.io/org/sbom:1.0\": {\"destination\": \"mirror.example/sbom\", \"referrers\": {\n"
        "    \"include\": [\"/cosign/\", \"application/spdx+json\"],\n"
        "    \"exclude\": \"application/vnd.in-toto+json\", \"depth\": 2}},\n"
        "  \"quay.io/org/pinned@" +
        dgst +
        "\": {\"destination\": \"mirror.example/pinned\", \"referrers\": {}},\n"
        "  \"quay.io/org/plain\": {\"destination\": \"mirror.example/plain\"},\n"
        "  \"nginx\": \"mirror.example/nginx\"\n"
        "}\n";
    for (const auto& [text, format, name] : {std::tuple{yaml, file_format::yaml, "images.yaml"},
                                             std::tuple{json, file_format::json, "images.json"}}) {
        const auto shown_name = name; // clang 14 cannot capture a structured binding
        CAPTURE(shown_name);
        const auto rules = parse_images(text, format, name, test_env);
        REQUIRE_MESSAGE(rules.has_value(), rules.error().message);
        REQUIRE(rules->size() == 6);
        const auto& off = (*rules)[0].referrers;
        REQUIRE(off.has_value());
        CHECK_FALSE(off->enabled);
        // `true` is on with the defaults: every type, depth 4.
        CHECK((*rules)[1].referrers == std::optional<referrer_policy>(referrer_policy{}));
        const auto& some = (*rules)[2].referrers;
        REQUIRE(some.has_value());
        CHECK(some->enabled);
        CHECK(some->include_types == std::vector<std::string>{"/cosign/", "application/spdx+json"});
        CHECK(some->exclude_types == std::vector<std::string>{"application/vnd.in-toto+json"});
        CHECK(some->max_depth == 2);
        CHECK(some->max_referrers == referrer_policy{}.max_referrers);
        // An empty map is on with the defaults too, and a digest source may have referrers.
        CHECK((*rules)[3].referrers == std::optional<referrer_policy>(referrer_policy{}));
        // Without the key (map or string form), the rule takes the run's policy (the flags).
        CHECK_FALSE((*rules)[4].referrers.has_value());
        CHECK_FALSE((*rules)[5].referrers.has_value());
    }
}
