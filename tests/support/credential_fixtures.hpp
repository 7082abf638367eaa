#pragma once
// Fixtures for credential tests: files, environment variables, and shell-script credential helpers.
#include "temp_dir.hpp"

#include <libregistry/core/credentials.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

namespace libregistry::testing {

namespace fs = std::filesystem;

inline void write_file(const fs::path& path, std::string_view text) {
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

inline bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

struct expected_credential {
    std::string username;
    std::string password;
    std::string identity_token;
};

inline void check_credential(const result<std::optional<credential>>& got,
                             const std::optional<expected_credential>& expected) {
    REQUIRE_MESSAGE(got.has_value(), got.error().message);
    REQUIRE(got->has_value() == expected.has_value());
    if (!expected) return;
    CHECK((*got)->username == expected->username);
    CHECK((*got)->password == expected->password);
    CHECK((*got)->identity_token == expected->identity_token);
}

} // namespace libregistry::testing
