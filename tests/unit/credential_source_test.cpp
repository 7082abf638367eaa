// Credential sources: helpers as real processes, run off the io_context thread; auth files, rules and chains.
#include "libregistry/client/credential_source.hpp"

#include "credential_fixtures.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <iterator>
#include <string>
#include <vector>

#include <sys/wait.h>

using namespace libregistry;
using namespace libregistry::testing;
namespace asio = boost::asio;

namespace {

/// Runs one coroutine to completion on a fresh io_context.
template <class T>
T run(asio::awaitable<T> work) {
    asio::io_context io;
    auto f = asio::co_spawn(io, std::move(work), asio::use_future);
    io.run();
    return f.get();
}

result<std::optional<credential>> lookup(const auth_file& file, std::string registry,
                                         std::string repository = {}) {
    credential_helper_runner helpers;
    return run(lookup_credentials(file, std::move(registry), std::move(repository), helpers));
}

result<std::optional<credential>> find_in_files(std::vector<std::string> files, std::string registry,
                                                std::string repository) {
    auto source = auth_files_source(std::move(files));
    return run(source->find(std::move(registry), std::move(repository)));
}

} // namespace

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

TEST_CASE("lookup_credentials runs credHelpers and credsStore") {
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
        check_credential(lookup(*file, r.registry, "some/repo"), r.expected);
    }

    auto broken = lookup(*file, "broken.example", "x");
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
    check_credential(lookup(*none, "missing.example"), std::nullopt);
    check_credential(lookup(*none, "docker.io", "library/alpine"), std::nullopt);

    auto store_fails = auth_file::parse(R"({"credsStore":"broken"})", "/x/config.json");
    REQUIRE(store_fails.has_value());
    auto failed = lookup(*store_fails, "quay.io");
    REQUIRE_FALSE(failed.has_value());
    CHECK(contains(failed.error().message, "/x/config.json: credsStore"));
}

TEST_CASE("auth_files_source searches files in order") {
    fake_helpers helpers;
    temp_dir dir{"credentials_test"};
    const auto first = (dir.path() / "first.json").string();
    const auto second = (dir.path() / "second.json").string();
    const auto third = (dir.path() / "third.json").string();
    write_file(first, R"({"auths":{"quay.io/org":{"auth":"b3JnOm9yZ3B3"}}})");
    write_file(second, R"({"auths":{"quay.io":{"auth":"cXVheTpxdWF5cHc="},"ghcr.io":{"auth":"eDp5MQ=="}}})");
    write_file(third, R"({"credsStore":"good"})");
    const std::vector<std::string> files{first, second, third};

    check_credential(find_in_files(files, "quay.io", "org/a"), expected_credential{"org", "orgpw", ""});
    // The first file has no entry for this repository, so the second one answers.
    check_credential(find_in_files(files, "quay.io", "other/a"), expected_credential{"quay", "quaypw", ""});
    check_credential(find_in_files(files, "ghcr.io", "a"), expected_credential{"x", "y1", ""});
    check_credential(find_in_files(files, "registry.example", "a"),
                     expected_credential{"helper-user", "pw-registry.example", ""});
    check_credential(find_in_files({first, second}, "registry.example", "a"), std::nullopt);
    check_credential(find_in_files({}, "quay.io", "a"), std::nullopt);

    const auto missing = (dir.path() / "missing.json").string();
    auto r = find_in_files({missing, second}, "quay.io", "a");
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

TEST_CASE("a slow credential helper does not hold up the io_context; concurrent lookups ask it once") {
    fake_helpers helpers;
    temp_dir dir{"credential_source_test"};
    const auto calls = dir.path() / "calls";
    const auto helper = helpers.dir() / "docker-credential-slow";
    write_file(helper, "#!/bin/sh\ncat >/dev/null\necho x >> '" + calls.string() +
                           "'\nsleep 1\necho '{\"Username\":\"slow\",\"Secret\":\"pw\"}'\n");
    fs::permissions(helper, fs::perms::owner_all);
    const auto config = (dir.path() / "config.json").string();
    write_file(config, R"({"credsStore":"slow"})");

    asio::io_context io;
    auto source = auth_files_source({config});
    int ticks = 0;
    int answered = 0;
    bool done = false;
    auto ask = [&]() -> asio::awaitable<void> {
        auto r = co_await source->find("quay.io", "org/app");
        REQUIRE(r.has_value());
        REQUIRE(r->has_value());
        CHECK((*r)->username == "slow");
        if (++answered == 3) done = true;
    };
    auto tick = [&]() -> asio::awaitable<void> {
        asio::steady_timer t(io);
        while (!done) {
            t.expires_after(std::chrono::milliseconds(20));
            co_await t.async_wait(asio::use_awaitable);
            ++ticks;
        }
    };
    for (int i = 0; i < 3; ++i)
        asio::co_spawn(io, ask, asio::detached);
    asio::co_spawn(io, tick, asio::detached);
    io.run();
    CHECK(answered == 3);
    // The io_context kept running while the helper slept for a second.
    CHECK(ticks >= 10);
    std::ifstream in(calls);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(all == "x\n");
    // Remembered: a later lookup of the same repository does not run the helper again.
    auto again = run(source->find("quay.io", "org/app"));
    REQUIRE(again.has_value());
    std::ifstream in2(calls);
    std::string after((std::istreambuf_iterator<char>(in2)), std::istreambuf_iterator<char>());
    CHECK(after == "x\n");
}

TEST_CASE("first_of asks its sources in order; rules and fixed credentials answer as configured") {
    std::vector<credential_rule> rules{
        credential_rule{"quay.io/org", credential{"org-user", "org-pw", ""}, false, "auth.yaml:1"},
    };
    auto chain = first_of({credential_rules_source(rules), fixed_credentials(credential{"any", "pw", ""})});
    auto org = run(chain->find("quay.io", "org/app"));
    REQUIRE(org.has_value());
    REQUIRE(org->has_value());
    CHECK((*org)->username == "org-user");
    auto other = run(chain->find("quay.io", "someone/app"));
    REQUIRE(other.has_value());
    REQUIRE(other->has_value());
    CHECK((*other)->username == "any");
    auto none = run(first_of({credential_rules_source(rules)})->find("ghcr.io", "x"));
    REQUIRE(none.has_value());
    CHECK_FALSE(none->has_value());
    // An error ends the search: a broken auth file is reported, not skipped.
    auto broken = first_of(
        {auth_files_source({"/nonexistent/auth.json"}), fixed_credentials(credential{"a", "b", ""})});
    auto r = run(broken->find("quay.io", "x"));
    REQUIRE_FALSE(r.has_value());
    CHECK(contains(r.error().message, "/nonexistent/auth.json"));
}
