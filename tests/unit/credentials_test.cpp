#include "libregistry/core/credentials.hpp"

#include "temp_dir.hpp"

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

using libregistry::testing::temp_dir;

void write_file(const fs::path& path, std::string_view text) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    REQUIRE(out.good());
}

/// Sets an environment variable (or unsets it for nullopt) and restores the old value at scope exit.
class scoped_env {
public:
    scoped_env(const char* name, std::optional<std::string> value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value)
            ::setenv(name, value->c_str(), 1);
        else
            ::unsetenv(name);
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;
    ~scoped_env() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }

private:
    const char* name_;
    std::optional<std::string> old_;
};

/// Shell-script credential helpers in a directory put first on PATH.
class fake_helpers {
public:
    fake_helpers() : path_env_("PATH", dir_.path().string() + ":" + old_path()) {
        // Echoes the server it was asked about, so tests see what was written on stdin.
        add("good", R"(server=$(cat)
printf '{"ServerURL":"%s","Username":"helper-user","Secret":"pw-%s"}\n' "$server" "$server")");
        add("token", R"(cat >/dev/null
echo '{"ServerURL":"x","Username":"<token>","Secret":"identity-secret"}')");
        add("missing", R"(cat >/dev/null
echo "credentials not found in native keychain"
exit 1)");
        add("broken", R"(cat >/dev/null
echo "error: keychain locked" >&2
echo "second line" >&2
exit 3)");
        add("stdout-fail", R"(cat >/dev/null
printf 'cannot reach vault\nmore detail\n'
exit 2)");
        add("silent-fail", "exit 4");
        add("garbage", R"(cat >/dev/null
echo "this is not json pw-secret")");
        add("no-secret", R"(cat >/dev/null
echo '{"Username":"u"}')");
        add("bad-username", R"(cat >/dev/null
echo '{"Username":5,"Secret":"pw-secret"}')");
        add("no-read", R"(echo '{"Username":"early","Secret":"pw-early"}')");
        add("signal", R"(kill -9 $$)");
        add("huge", R"(cat >/dev/null
head -c 2000000 /dev/zero | tr '\0' 'x')");
    }

    const fs::path& dir() const { return dir_.path(); }

private:
    temp_dir dir_;
    scoped_env path_env_;

    static std::string old_path() {
        const char* p = std::getenv("PATH");
        return p ? p : "/usr/bin:/bin";
    }

    void add(const std::string& name, const std::string& body) {
        const auto path = dir_.path() / ("docker-credential-" + name);
        write_file(path, "#!/bin/sh\n" + body + "\n");
        fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
    }
};

bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

struct expected_credential {
    std::string username;
    std::string password;
    std::string identity_token;
};

void check_credential(const result<std::optional<credential>>& got,
                      const std::optional<expected_credential>& expected) {
    REQUIRE_MESSAGE(got.has_value(), got.error().message);
    REQUIRE(got->has_value() == expected.has_value());
    if (!expected) return;
    CHECK((*got)->username == expected->username);
    CHECK((*got)->password == expected->password);
    CHECK((*got)->identity_token == expected->identity_token);
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
        check_credential(file->lookup(r.registry, r.repository), r.expected);
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
        check_credential(file->lookup("docker.io", "library/alpine"),
                         expected_credential{"hub", "hubpw", ""});
        check_credential(file->lookup("quay.io", "library/alpine"), std::nullopt);
    }

    auto ns = auth_file::parse(R"({"auths":{"docker.io/library":{"auth":"aHViOmh1YnB3"}}})", "c.json");
    REQUIRE(ns.has_value());
    check_credential(ns->lookup("docker.io", "library/alpine"), expected_credential{"hub", "hubpw", ""});
    check_credential(ns->lookup("docker.io", "someone/tool"), std::nullopt);
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
        check_credential(file->lookup("x"), std::nullopt);
    }
}

TEST_CASE("auth_file::load") {
    temp_dir dir{"credentials_test"};
    const auto path = (dir.path() / "auth.json").string();
    write_file(path, R"({"auths":{"quay.io":{"auth":"cXVheTpxdWF5cHc="}}})");
    auto file = auth_file::load(path);
    REQUIRE_MESSAGE(file.has_value(), file.error().message);
    CHECK(file->path() == path);
    check_credential(file->lookup("quay.io", "a/b"), expected_credential{"quay", "quaypw", ""});

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

TEST_CASE("run_credential_helper with real helper processes") {
    fake_helpers helpers;

    check_credential(run_credential_helper("good", "quay.io"),
                     expected_credential{"helper-user", "pw-quay.io", ""});
    check_credential(run_credential_helper("good", "https://index.docker.io/v1/"),
                     expected_credential{"helper-user", "pw-https://index.docker.io/v1/", ""});
    check_credential(run_credential_helper("token", "quay.io"),
                     expected_credential{"", "", "identity-secret"});
    check_credential(run_credential_helper("missing", "quay.io"), std::nullopt);
    check_credential(run_credential_helper("no-read", "quay.io"),
                     expected_credential{"early", "pw-early", ""});

    struct failure {
        std::string helper;
        std::vector<std::string> message_parts;
    };
    const std::vector<failure> failures{
        {"broken", {"docker-credential-broken", "exit status 3", "error: keychain locked"}},
        {"stdout-fail", {"docker-credential-stdout-fail", "exit status 2", "cannot reach vault"}},
        {"silent-fail", {"docker-credential-silent-fail", "exit status 4"}},
        {"signal", {"docker-credential-signal", "killed by signal 9"}},
        {"garbage", {"docker-credential-garbage", "JSON object"}},
        {"no-secret", {"docker-credential-no-secret", "\"Secret\""}},
        {"bad-username", {"docker-credential-bad-username", "\"Username\""}},
        {"huge", {"docker-credential-huge", "more than"}},
        {"not-installed", {"docker-credential-not-installed", "not found on PATH"}},
        {"", {"invalid credential helper name"}},
        {"../good", {"invalid credential helper name"}},
        {"a/b", {"invalid credential helper name"}},
    };
    for (const auto& f : failures) {
        CAPTURE(f.helper);
        auto r = run_credential_helper(f.helper, "quay.io");
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == errc::credentials_error);
        for (const auto& part : f.message_parts)
            CHECK_MESSAGE(contains(r.error().message, part), r.error().message);
        CHECK_FALSE(contains(r.error().message, "second line"));
        CHECK_FALSE(contains(r.error().message, "more detail"));
        CHECK_FALSE(contains(r.error().message, "pw-"));
    }
}

TEST_CASE("auth_file lookup runs credHelpers and credsStore") {
    fake_helpers helpers;
    const std::string config = R"({
  "auths": {
    "https://index.docker.io/v1/": {},
    "inline.example": {"auth": "eDp5MQ=="},
    "both.example": {"auth": "eDp5MQ=="}
  },
  "credHelpers": {
    "helped.example": "good",
    "https://url-key.example/v1/": "good",
    "both.example": "good",
    "missing.example": "missing",
    "broken.example": "broken",
    "tok.example": "token"
  },
  "credsStore": "good"
})";
    auto file = auth_file::parse(config, "/root/.docker/config.json");
    REQUIRE_MESSAGE(file.has_value(), file.error().message);

    struct row {
        std::string registry;
        std::optional<expected_credential> expected;
    };
    const std::vector<row> rows{
        // Docker Hub's empty auths entry defers to the store, which is asked about the v1 index URL.
        {"docker.io", expected_credential{"helper-user", "pw-https://index.docker.io/v1/", ""}},
        {"helped.example", expected_credential{"helper-user", "pw-helped.example", ""}},
        {"url-key.example", expected_credential{"helper-user", "pw-url-key.example", ""}},
        {"inline.example", expected_credential{"x", "y1", ""}},
        {"both.example", expected_credential{"helper-user", "pw-both.example", ""}},
        // The per-host helper knows nothing, so the store is asked next.
        {"missing.example", expected_credential{"helper-user", "pw-missing.example", ""}},
        {"tok.example", expected_credential{"", "", "identity-secret"}},
        {"other.example:5000", expected_credential{"helper-user", "pw-other.example:5000", ""}},
    };
    for (const auto& r : rows) {
        CAPTURE(r.registry);
        check_credential(file->lookup(r.registry, "some/repo"), r.expected);
    }

    auto broken = file->lookup("broken.example", "x");
    REQUIRE_FALSE(broken.has_value());
    CHECK(broken.error().code == errc::credentials_error);
    CHECK_MESSAGE(
        contains(broken.error().message, R"(/root/.docker/config.json: credHelpers["broken.example"])"),
        broken.error().message);
    CHECK(contains(broken.error().message, "docker-credential-broken"));
    CHECK(contains(broken.error().message, "keychain locked"));

    auto none =
        auth_file::parse(R"({"credHelpers":{"missing.example":"missing"},"credsStore":"missing"})", "f");
    REQUIRE(none.has_value());
    check_credential(none->lookup("missing.example"), std::nullopt);
    check_credential(none->lookup("docker.io", "library/alpine"), std::nullopt);

    auto store_fails = auth_file::parse(R"({"credsStore":"broken"})", "/x/config.json");
    REQUIRE(store_fails.has_value());
    auto failed = store_fails->lookup("quay.io");
    REQUIRE_FALSE(failed.has_value());
    CHECK(contains(failed.error().message, "/x/config.json: credsStore"));
}

TEST_CASE("lookup_credentials searches files in order") {
    fake_helpers helpers;
    temp_dir dir{"credentials_test"};
    const auto first = (dir.path() / "first.json").string();
    const auto second = (dir.path() / "second.json").string();
    const auto third = (dir.path() / "third.json").string();
    write_file(first, R"({"auths":{"quay.io/org":{"auth":"b3JnOm9yZ3B3"}}})");
    write_file(second, R"({"auths":{"quay.io":{"auth":"cXVheTpxdWF5cHc="},"ghcr.io":{"auth":"eDp5MQ=="}}})");
    write_file(third, R"({"credsStore":"good"})");
    const std::vector<std::string> files{first, second, third};

    check_credential(lookup_credentials(files, "quay.io", "org/a"), expected_credential{"org", "orgpw", ""});
    // The first file has no entry for this repository, so the second one answers.
    check_credential(lookup_credentials(files, "quay.io", "other/a"),
                     expected_credential{"quay", "quaypw", ""});
    check_credential(lookup_credentials(files, "ghcr.io", "a"), expected_credential{"x", "y1", ""});
    check_credential(lookup_credentials(files, "registry.example", "a"),
                     expected_credential{"helper-user", "pw-registry.example", ""});
    check_credential(lookup_credentials({first, second}, "registry.example", "a"), std::nullopt);
    check_credential(lookup_credentials({}, "quay.io", "a"), std::nullopt);

    const auto missing = (dir.path() / "missing.json").string();
    auto r = lookup_credentials({missing, second}, "quay.io", "a");
    REQUIRE_FALSE(r.has_value());
    CHECK(contains(r.error().message, missing));
}

TEST_CASE("run_credential_helper leaves no file descriptors or children behind") {
    fake_helpers helpers;
    auto open_fds = [] {
        return std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator{});
    };
    const auto before = open_fds();
    for (int i = 0; i < 10; ++i) {
        CHECK(run_credential_helper("good", "quay.io").has_value());
        CHECK_FALSE(run_credential_helper("broken", "quay.io").has_value());
        CHECK_FALSE(run_credential_helper("not-installed", "quay.io").has_value());
        CHECK(run_credential_helper("no-read", "quay.io").has_value());
    }
    CHECK(open_fds() == before);
    // Every helper was reaped: there is no child left to wait for.
    CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);
    CHECK(errno == ECHILD);
}
