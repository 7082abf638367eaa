// syncer/src/session: credentials from flags, the password kept off the command line (issue 10).
#include "session.hpp"

#include <libregistry/core/redact.hpp>

#include <doctest/doctest.h>

#include <map>
#include <sstream>
#include <string>

using syncer::endpoint_credentials;
using syncer::endpoint_flags;
using syncer::usage_error;

namespace {

std::optional<std::string> fake_env(std::string_view name) {
    static const std::map<std::string, std::string, std::less<>> vars{{"REG_PW", "Env-S3cret-PW"},
                                                                      {"EMPTY", ""}};
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
}

endpoint_flags dest(std::string creds) {
    endpoint_flags f;
    f.creds = std::move(creds);
    f.flag_prefix = "dest-";
    return f;
}

std::string usage_message(const endpoint_flags& f, std::string input = "") {
    std::istringstream in(input);
    try {
        endpoint_credentials(f, in, fake_env);
    } catch (const usage_error& e) {
        return e.what();
    }
    return "no error";
}

} // namespace

TEST_CASE("endpoint_credentials: USER[:PASS] on the command line, as before") {
    std::istringstream in;
    CHECK_FALSE(endpoint_credentials(dest(""), in, fake_env));
    auto c = endpoint_credentials(dest("user:pa:ss"), in, fake_env);
    REQUIRE(c);
    CHECK(c->username == "user");
    CHECK(c->password == "pa:ss");
    c = endpoint_credentials(dest("user"), in, fake_env);
    REQUIRE(c);
    CHECK(c->password.empty());
    CHECK(
        usage_message(dest(":pw")).starts_with("--dest-creds: credentials must be given as USER[:PASSWORD]"));
}

TEST_CASE("endpoint_credentials: the password from stdin, one trailing newline dropped") {
    auto f = dest("user");
    f.password_stdin = true;
    for (const auto& row : std::map<std::string, std::string>{{"Stdin-S3cret\n", "Stdin-S3cret"},
                                                              {"Stdin-S3cret", "Stdin-S3cret"},
                                                              {"Stdin-S3cret\r\n", "Stdin-S3cret"},
                                                              {"two\n\n", "two\n"},
                                                              {" spaced pw \n", " spaced pw "}}) {
        // Not a structured binding: clang 14 cannot capture one in CAPTURE's lambda.
        const auto& input = row.first;
        const auto& expected = row.second;
        CAPTURE(input);
        std::istringstream in(input);
        auto c = endpoint_credentials(f, in, fake_env);
        REQUIRE(c);
        CHECK(c->username == "user");
        CHECK(c->password == expected);
    }
    CHECK(usage_message(f, "\n") == "--dest-password-stdin: stdin gave no password");
    // Known before any registry is asked: output scrubs it from then on.
    CHECK(libregistry::scrub_secrets("echoed Stdin-S3cret") == "echoed REDACTED");
}

TEST_CASE("endpoint_credentials: the password from an environment variable") {
    auto f = dest("user");
    f.password_env = "REG_PW";
    std::istringstream in("not read");
    auto c = endpoint_credentials(f, in, fake_env);
    REQUIRE(c);
    CHECK(c->password == "Env-S3cret-PW");
    f.password_env = "UNSET";
    CHECK(usage_message(f) == "--dest-password-env UNSET: that environment variable is not set");
    f.password_env = "EMPTY";
    CHECK(usage_message(f) == "--dest-password-env EMPTY: that environment variable is empty");
}

TEST_CASE("endpoint_credentials: a password given twice or without a user is a usage error") {
    auto f = dest("user:Inline-S3cret");
    f.password_stdin = true;
    const auto twice = usage_message(f, "pw\n");
    CHECK(twice ==
          "--dest-creds gives the password already (USER:PASS); with --dest-password-stdin give only USER");
    CHECK(twice.find("Inline-S3cret") == std::string::npos);

    f = dest("user");
    f.password_stdin = true;
    f.password_env = "REG_PW";
    CHECK(usage_message(f) ==
          "--dest-password-stdin and --dest-password-env both give the password: use one");

    f = dest("");
    f.password_env = "REG_PW";
    CHECK(usage_message(f) == "--dest-password-env needs --dest-creds USER: the password is for that user");
    endpoint_flags query;
    query.password_stdin = true;
    CHECK(usage_message(query) == "--password-stdin needs --creds USER: the password is for that user");
}
