#include "libregistry/core/credentials.hpp"

#include "credential_fixtures.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

using namespace libregistry;
namespace fs = std::filesystem;

namespace {

using namespace libregistry::testing;

// What the file itself says, for files without helpers.
result<std::optional<credential>> lookup(const auth_file& file, std::string_view registry,
                                         std::string_view repository = {}) {
    auto plan = file.resolve(registry, repository);
    CHECK(plan.helper.empty());
    CHECK(plan.store.empty());
    return plan.inline_entry;
}

} // namespace

TEST_CASE("parse_user_password") {
    struct row {
        std::string text;
        std::string username;
        std::string password;
    };
    const std::vector<row> rows{
        {"user", "user", ""},
        {"user:", "user", ""},
        {"user:pass", "user", "pass"},
        {"user:pa:ss", "user", "pa:ss"},
        {"user@example.com:p@ss word", "user@example.com", "p@ss word"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.text);
        auto c = parse_user_password(r.text);
        REQUIRE(c.has_value());
        CHECK(c->username == r.username);
        CHECK(c->password == r.password);
        CHECK(c->identity_token.empty());
    }
    for (std::string bad : {"", ":", ":secret-pass"}) {
        CAPTURE(bad);
        auto c = parse_user_password(bad);
        REQUIRE_FALSE(c.has_value());
        CHECK(c.error().code == errc::invalid_argument);
        CHECK(contains(c.error().message, "USER"));
        CHECK_FALSE(contains(c.error().message, "secret-pass"));
    }
}

TEST_CASE("default_auth_files follows the documented order and skips missing files") {
    temp_dir dir{"credentials_test"};
    const auto reg = dir.path() / "reg.json";
    const auto xdg = dir.path() / "xdg";
    const auto docker_config = dir.path() / "dockercfg";
    const auto home = dir.path() / "home";
    write_file(reg, "{}");
    write_file(xdg / "containers" / "auth.json", "{}");
    write_file(home / ".docker" / "config.json", "{}");

    scoped_env e1("REGISTRY_AUTH_FILE", reg.string());
    scoped_env e2("XDG_RUNTIME_DIR", xdg.string());
    scoped_env e3("DOCKER_CONFIG", docker_config.string());
    scoped_env e4("HOME", home.string());

    CHECK(default_auth_files() == std::vector<std::string>{reg.string(),
                                                           (xdg / "containers/auth.json").string(),
                                                           (home / ".docker/config.json").string()});

    write_file(docker_config / "config.json", "{}");
    CHECK(default_auth_files() == std::vector<std::string>{reg.string(),
                                                           (xdg / "containers/auth.json").string(),
                                                           (docker_config / "config.json").string(),
                                                           (home / ".docker/config.json").string()});

    {
        scoped_env missing("REGISTRY_AUTH_FILE", (dir.path() / "nope.json").string());
        scoped_env no_xdg("XDG_RUNTIME_DIR", std::nullopt);
        CHECK(default_auth_files() == std::vector<std::string>{(docker_config / "config.json").string(),
                                                               (home / ".docker/config.json").string()});
    }
    {
        // DOCKER_CONFIG pointing at ~/.docker must not list the same file twice.
        scoped_env same("DOCKER_CONFIG", (home / ".docker").string());
        scoped_env no_reg("REGISTRY_AUTH_FILE", std::nullopt);
        scoped_env no_xdg("XDG_RUNTIME_DIR", std::nullopt);
        CHECK(default_auth_files() == std::vector<std::string>{(home / ".docker/config.json").string()});
    }
    {
        // A directory where a file is expected is not an auth file.
        fs::create_directories(dir.path() / "dir.json");
        scoped_env as_dir("REGISTRY_AUTH_FILE", (dir.path() / "dir.json").string());
        scoped_env no_xdg("XDG_RUNTIME_DIR", std::nullopt);
        scoped_env no_docker("DOCKER_CONFIG", std::nullopt);
        scoped_env empty_home("HOME", (dir.path() / "empty-home").string());
        CHECK(default_auth_files().empty());
    }
}

TEST_CASE("auth_file lookup: key forms and namespaces") {
    const std::string config = R"({
  "auths": {
    "https://index.docker.io/v1/": {"auth": "aHViOmh1YnB3"},
    "quay.io": {"auth": "cXVheTpxdWF5cHc="},
    "quay.io/org": {"auth": "b3JnOm9yZ3B3"},
    "quay.io/org/repo/": {"auth": "cmVwbzpyZXBvcHc="},
    "http://localhost:5000": {"auth": "bG9jYWw6bG9jYWxwdw=="},
    "plain.example:5000": {"username": "plainuser", "password": "plainpw"},
    "token.example": {"auth": "dTo=", "identitytoken": "idtok"},
    "idonly.example": {"identitytoken": "idtok2"},
    "empty.example": {},
    "emptyauth.example": {"auth": ""},
    "Upper.Example": {"auth": "eDp5MQ==", "email": "x@example.com"},
    "unpadded.example": {"auth": "cXVheTpxdWF5cHc"},
    "colons.example": {"auth": "YTpiOmM="},
    "https://legacy.example/v1/some/path": {"auth": "eDp5MQ=="}
  },
  "psFormat": "table",
  "HttpHeaders": {"User-Agent": "x"}
})";
    auto file = auth_file::parse(config, "/cfg/config.json");
    REQUIRE_MESSAGE(file.has_value(), file.error().message);
    CHECK(file->path() == "/cfg/config.json");

    struct row {
        std::string registry;
        std::string repository;
        std::optional<expected_credential> expected;
    };
    const std::vector<row> rows{
        {"docker.io", "library/alpine", expected_credential{"hub", "hubpw", ""}},
        {"docker.io", "", expected_credential{"hub", "hubpw", ""}},
        {"registry-1.docker.io", "x/y", expected_credential{"hub", "hubpw", ""}},
        {"index.docker.io", "x/y", expected_credential{"hub", "hubpw", ""}},
        {"quay.io", "", expected_credential{"quay", "quaypw", ""}},
        {"quay.io", "other/x", expected_credential{"quay", "quaypw", ""}},
        {"quay.io", "org/x", expected_credential{"org", "orgpw", ""}},
        {"quay.io", "org/repo", expected_credential{"repo", "repopw", ""}},
        {"quay.io", "org/repo/sub", expected_credential{"repo", "repopw", ""}},
        {"quay.io", "org/repository", expected_credential{"org", "orgpw", ""}},
        {"quay.io", "orgx/y", expected_credential{"quay", "quaypw", ""}},
        {"QUAY.IO", "org/x", expected_credential{"org", "orgpw", ""}},
        {"localhost:5000", "a", expected_credential{"local", "localpw", ""}},
        {"localhost", "a", std::nullopt},
        {"plain.example:5000", "x", expected_credential{"plainuser", "plainpw", ""}},
        {"plain.example", "x", std::nullopt},
        {"token.example", "", expected_credential{"u", "", "idtok"}},
        {"idonly.example", "", expected_credential{"", "", "idtok2"}},
        {"empty.example", "", std::nullopt},
        {"emptyauth.example", "", std::nullopt},
        {"upper.example", "a/b", expected_credential{"x", "y1", ""}},
        {"unpadded.example", "", expected_credential{"quay", "quaypw", ""}},
        {"colons.example", "", expected_credential{"a", "b:c", ""}},
        // A key written as a URL names only its host.
        {"legacy.example", "other", expected_credential{"x", "y1", ""}},
        {"ghcr.io", "a/b", std::nullopt},
        {"quay.io.evil.example", "org/x", std::nullopt},
    };
    for (const auto& r : rows) {
        CAPTURE(r.registry);
        CAPTURE(r.repository);
        check_credential(lookup(*file, r.registry, r.repository), r.expected);
    }
}

TEST_CASE("auth_file lookup: every spelling of Docker Hub") {
    const std::vector<std::string> keys{
        "https://index.docker.io/v1/",
        "https://index.docker.io/v1",
        "http://index.docker.io/v1/",
        "index.docker.io",
        "docker.io",
        "registry-1.docker.io",
        "https://registry-1.docker.io",
        "DOCKER.IO",
    };
    for (const auto& key : keys) {
        CAPTURE(key);
        auto file = auth_file::parse(R"({"auths":{")" + key + R"(":{"auth":"aHViOmh1YnB3"}}})", "c.json");
        REQUIRE(file.has_value());
        check_credential(lookup(*file, "docker.io", "library/alpine"),
                         expected_credential{"hub", "hubpw", ""});
        check_credential(lookup(*file, "quay.io", "library/alpine"), std::nullopt);
    }

    auto ns = auth_file::parse(R"({"auths":{"docker.io/library":{"auth":"aHViOmh1YnB3"}}})", "c.json");
    REQUIRE(ns.has_value());
    check_credential(lookup(*ns, "docker.io", "library/alpine"), expected_credential{"hub", "hubpw", ""});
    check_credential(lookup(*ns, "docker.io", "someone/tool"), std::nullopt);
}

TEST_CASE("auth_file::parse errors name the file and key, never the secret") {
    struct row {
        std::string name;
        std::string text;
        std::string message_part;
    };
    const std::vector<row> rows{
        {"not JSON", "not json SECRET", "/cfg/a.json: not valid JSON"},
        {"truncated", R"({"auths":{"quay.io":{"auth":"SECRET)", "/cfg/a.json: not valid JSON"},
        {"not an object", R"(["SECRET"])", "/cfg/a.json: not a JSON object"},
        {"auths not an object", R"({"auths":["SECRET"]})", "/cfg/a.json: auths: expected an object"},
        {"entry not an object", R"({"auths":{"quay.io":"SECRET"}})",
         R"(/cfg/a.json: auths["quay.io"]: expected an object)"},
        {"auth not base64", R"({"auths":{"quay.io":{"auth":"!!SECRET!!"}}})",
         R"(/cfg/a.json: auths["quay.io"].auth: not valid base64 "user:password")"},
        {"auth impossible length", R"({"auths":{"quay.io":{"auth":"U0VDUkVUa"}}})",
         R"(auths["quay.io"].auth: not valid base64)"},
        {"auth without colon", R"({"auths":{"quay.io":{"auth":"U0VDUkVU"}}})",
         R"(/cfg/a.json: auths["quay.io"].auth: base64 text has no ':')"},
        {"auth not a string", R"({"auths":{"quay.io":{"auth":5}}})",
         R"(/cfg/a.json: auths["quay.io"].auth: expected a string)"},
        {"password not a string", R"({"auths":{"quay.io":{"password":["SECRET"]}}})",
         R"(/cfg/a.json: auths["quay.io"].password: expected a string)"},
        {"identitytoken not a string", R"({"auths":{"q":{"identitytoken":{"x":"SECRET"}}}})",
         R"(auths["q"].identitytoken: expected a string)"},
        {"credHelpers not an object", R"({"credHelpers":"good"})",
         "/cfg/a.json: credHelpers: expected an object"},
        {"credHelpers value not a string", R"({"credHelpers":{"quay.io":1}})",
         R"(/cfg/a.json: credHelpers["quay.io"]: expected a string)"},
        {"credsStore not a string", R"({"credsStore":true})", "/cfg/a.json: credsStore: expected a string"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        auto file = auth_file::parse(r.text, "/cfg/a.json");
        REQUIRE_FALSE(file.has_value());
        CHECK(file.error().code == errc::credentials_error);
        CHECK_MESSAGE(contains(file.error().message, r.message_part), file.error().message);
        // "U0VDUkVU" is base64 for the word.
        CHECK_FALSE(contains(file.error().message, "SECRET"));
        CHECK_FALSE(contains(file.error().message, "U0VDUkVU"));
    }

    for (std::string ok : {"{}", R"({"auths":null})", R"({"auths":{}})", R"({"credsStore":""})",
                           R"({"credHelpers":{"x":""}})"}) {
        CAPTURE(ok);
        auto file = auth_file::parse(ok, "f");
        REQUIRE(file.has_value());
        check_credential(lookup(*file, "x"), std::nullopt);
    }
}

TEST_CASE("auth_file::load") {
    temp_dir dir{"credentials_test"};
    const auto path = (dir.path() / "auth.json").string();
    write_file(path, R"({"auths":{"quay.io":{"auth":"cXVheTpxdWF5cHc="}}})");
    auto file = auth_file::load(path);
    REQUIRE_MESSAGE(file.has_value(), file.error().message);
    CHECK(file->path() == path);
    check_credential(lookup(*file, "quay.io", "a/b"), expected_credential{"quay", "quaypw", ""});

    const auto missing = (dir.path() / "missing.json").string();
    auto not_there = auth_file::load(missing);
    REQUIRE_FALSE(not_there.has_value());
    CHECK(not_there.error().code == errc::credentials_error);
    CHECK(contains(not_there.error().message, missing));

    write_file(dir.path() / "bad.json", "{");
    auto bad = auth_file::load((dir.path() / "bad.json").string());
    REQUIRE_FALSE(bad.has_value());
    CHECK(contains(bad.error().message, (dir.path() / "bad.json").string() + ": not valid JSON"));
}

TEST_CASE("auth_file_with_login: stores user:password as skopeo login does, keeps everything else") {
    const std::string before =
        R"({"auths":{"quay.io":{"auth":"cXVheTpwdw=="},"https://127.0.0.1:5000/v1/":)"
        R"({"auth":"b2xkOm9sZA=="}},"credHelpers":{"gcr.io":"gcloud"},"x-extra":[1,2]})";
    auto after =
        auth_file_with_login(before, "auth.json", "127.0.0.1:5000", credential{"tester", "s3cr:et", {}});
    REQUIRE(after.has_value());
    auto file = auth_file::parse(*after, "auth.json");
    REQUIRE(file.has_value());
    auto plan = file->resolve("127.0.0.1:5000");
    REQUIRE(plan.inline_entry);
    CHECK(plan.inline_entry->username == "tester");
    CHECK(plan.inline_entry->password == "s3cr:et"); // only the first colon separates
    // The old spelling of the same host is replaced, not left to compete with the new entry.
    CHECK(after->find("https://127.0.0.1:5000/v1/") == std::string::npos);
    CHECK(after->find("\"127.0.0.1:5000\": {\n\t\t\t\"auth\": \"dGVzdGVyOnMzY3I6ZXQ=\"") !=
          std::string::npos);
    // Other registries, helpers and unknown keys are kept, in their order.
    CHECK(after->find("\"quay.io\": {\n\t\t\t\"auth\": \"cXVheTpwdw==\"") != std::string::npos);
    CHECK(after->find("\"gcr.io\": \"gcloud\"") != std::string::npos);
    CHECK(after->find("\"x-extra\"") > after->find("\"credHelpers\""));
    CHECK(after->ends_with("}\n"));

    auto fresh = auth_file_with_login("", "new.json", "registry.example", credential{"u", "p", {}});
    REQUIRE(fresh.has_value());
    CHECK(*fresh ==
          "{\n\t\"auths\": {\n\t\t\"registry.example\": {\n\t\t\t\"auth\": \"dTpw\"\n\t\t}\n\t}\n}\n");
}

TEST_CASE("auth_file_without_login: removes only that host's entries; empty registry removes all") {
    const std::string before =
        R"({"auths":{"quay.io":{"auth":"YTpi"},"quay.io/org":{"auth":"Yzpk"},)"
        R"("quay.io.evil":{"auth":"ZTpm"},"docker.io":{"auth":"ZzpoCg=="}},"credsStore":"pass"})";
    auto one = auth_file_without_login(before, "auth.json", "quay.io");
    REQUIRE(one.has_value());
    CHECK(one->removed == 2);
    CHECK(one->text.find("\"quay.io\"") == std::string::npos);
    CHECK(one->text.find("quay.io/org") == std::string::npos);
    CHECK(one->text.find("quay.io.evil") != std::string::npos);
    CHECK(one->text.find("docker.io") != std::string::npos);
    CHECK(one->text.find("\"credsStore\": \"pass\"") != std::string::npos);

    auto none = auth_file_without_login(before, "auth.json", "ghcr.io");
    REQUIRE(none.has_value());
    CHECK(none->removed == 0);

    auto all = auth_file_without_login(before, "auth.json", "");
    REQUIRE(all.has_value());
    CHECK(all->removed == 4);
    CHECK(all->text == "{\n\t\"auths\": {},\n\t\"credsStore\": \"pass\"\n}\n");
}

TEST_CASE("auth file edits refuse files they cannot read, without quoting them") {
    for (const char* text : {R"({"auths":{"h":{"auth":"c2VjcmV0LXB3")", "[1]", R"({"auths":[]})"}) {
        CAPTURE(text);
        auto r = auth_file_with_login(text, "/tmp/a.json", "h", credential{"u", "p", {}});
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().message.find("/tmp/a.json") != std::string::npos);
        CHECK(r.error().message.find("c2VjcmV0") == std::string::npos);
        CHECK_FALSE(auth_file_without_login(text, "/tmp/a.json", "h").has_value());
    }
}
