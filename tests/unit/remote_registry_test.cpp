// remote_registry against a scripted registry on 127.0.0.1 (tests/support/scripted_server.hpp), through the
// public API only: what the server saw (paths, headers, counts), the stats, and the results and errors the
// caller gets. Loopback registries may speak plain HTTP, so the client pings HTTPS first and falls back.
#include "libregistry/client/remote_registry.hpp"
#include "libregistry/core/retry.hpp"

#include "client/detail/for_each_bounded.hpp"
#include "scripted_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace doctest {
template <>
struct StringMaker<std::vector<std::string>> {
    static String convert(const std::vector<std::string>& items) {
        std::string out = "{";
        for (const auto& item : items)
            out += (out.size() > 1 ? ", \"" : "\"") + item + "\"";
        return String((out + "}").c_str());
    }
};
} // namespace doctest

namespace {

namespace asio = boost::asio;
namespace lh = libregistry::http;
using namespace libregistry;
using namespace libregistry::testing;
using namespace std::chrono_literals;

const std::string repo = "library/alpine";
const std::string manifest_type = "application/vnd.oci.image.manifest.v1+json";

/// Fast retries: three sends at most, a millisecond or so apart.
remote_options options_for(const scripted_server& server, std::optional<credential> cred = std::nullopt) {
    remote_options options;
    options.registry = server.host_port();
    options.credentials = std::move(cred);
    options.retry.max_attempts = 3;
    options.retry.base_delay = 1ms;
    options.retry.max_delay = 5ms;
    return options;
}

credential user_password(std::string username, std::string password) {
    credential out;
    out.username = std::move(username);
    out.password = std::move(password);
    return out;
}

bool is_ping(const recorded& r) {
    return r.method == "GET" && r.path() == "/v2/";
}

/// An OCI image manifest; `note` makes its bytes (and digest) differ.
std::string image_manifest(std::string_view note) {
    return R"({"schemaVersion":2,"mediaType":")" + manifest_type +
           R"(","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
           digest_of("{}").str() + R"(","size":2},"layers":[],"annotations":{"note":")" + std::string(note) +
           R"("}})";
}

reply manifest_reply(std::string_view body, lh::fields headers = {}) {
    headers.emplace_back("Content-Type", manifest_type);
    return ok(body, headers);
}

/// A Bearer challenge whose realm is the token endpoint on the same server.
std::string bearer_challenge(const recorded& r, std::string_view extra = {}) {
    return "Bearer realm=\"http://" + r.header("Host") + "/token\",service=\"registry.test\"" +
           std::string(extra);
}

reply token_reply(int n) {
    return ok(R"({"token":"tok-)" + std::to_string(n) + R"(","expires_in":300})");
}

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

/// One GET of a manifest, for running several at once.
asio::awaitable<void> get_one(remote_registry* reg, std::string tag, int* succeeded) {
    auto m = co_await reg->get_manifest(repo, tag);
    CHECK_MESSAGE(m.has_value(), (m ? std::string() : m.error().message));
    if (m) ++*succeeded;
}

/// One GET of a manifest that must fail with the registry's not-a-registry error.
asio::awaitable<void> expect_failure(remote_registry* reg, std::string tag, std::string registry,
                                     int* succeeded) {
    auto m = co_await reg->get_manifest(repo, tag);
    if (m)
        ++*succeeded;
    else
        CHECK(contains(m.error().message, registry + " is not an OCI registry"));
}

asio::awaitable<void> get_concurrently(remote_registry* reg, int n, int* succeeded) {
    std::vector<asio::awaitable<void>> tasks;
    for (int i = 0; i < n; ++i)
        tasks.push_back(get_one(reg, "tag" + std::to_string(i), succeeded));
    co_await run_concurrently(std::move(tasks));
}

// --- ping and scheme discovery ---------------------------------------------------------------------------

struct scheme_row {
    const char* name;
    bool tls;
};

asio::awaitable<void> ping_case(std::shared_ptr<scripted_server> server, scheme_row row) {
    const auto executor = co_await asio::this_coro::executor;
    auto options = test_client_options();
    auto exchanges = std::make_shared<std::vector<std::string>>();
    options.debug = [exchanges](std::string_view text) { exchanges->emplace_back(text); };
    if (row.tls) {
        const lh::host_settings settings{false, true, (test_pki::get().dir() / "certs").string()};
        options.settings_for = [settings](std::string_view) { return settings; };
    }
    lh::client client(executor, options);
    remote_registry reg(client, options_for(*server));

    int succeeded = 0;
    co_await get_concurrently(&reg, 4, &succeeded);
    CHECK(succeeded == 4);

    // One version check for all four, first thing, and everything over the scheme that answered it.
    CHECK(server->count("GET", "/v2/") == 1);
    REQUIRE(server->requests.size() == 5);
    CHECK(is_ping(server->requests[0]));
    for (const auto& r : server->requests)
        CHECK(r.tls == row.tls);
    const std::string https = "> GET https://" + server->host_port() + "/";
    const std::string http = "> GET http://" + server->host_port() + "/";
    auto count = [&](const std::string& prefix) {
        return std::count_if(exchanges->begin(), exchanges->end(),
                             [&](const std::string& e) { return e.starts_with(prefix); });
    };
    // Plain HTTP is allowed on loopback, so both schemes were asked at once, once each; the one that answered
    // is kept for the four GETs. HTTPS wins when it answers.
    CHECK(count(https + "v2/ ") == 1);
    CHECK(count(http + "v2/ ") == 1);
    CHECK(count(row.tls ? https + "v2/" + repo : http + "v2/" + repo) == 4);
    CHECK(count(row.tls ? http + "v2/" + repo : https + "v2/" + repo) == 0);
    // The scheme that did not answer failed: a plain server got a ClientHello it could not parse.
    CHECK(server->not_http == (row.tls ? 0 : 1));
}

TEST_CASE("ping: one GET /v2/ per scheme for concurrent requests, and the scheme that answered it is kept") {
    const scheme_row rows[] = {{"plain HTTP on loopback", false}, {"HTTPS", true}};
    for (const auto& row : rows) {
        CAPTURE(row.name);
        asio::io_context io;
        server_options server_opts;
        if (row.tls) server_opts.tls = test_pki::get().server_context();
        auto server = scripted_server::start(
            io,
            [](const recorded& r) {
                if (is_ping(r)) return ok("{}");
                return manifest_reply(image_manifest(r.path()));
            },
            server_opts);
        run(io, ping_case(server, row));
    }
}

asio::awaitable<void> not_a_registry_case(std::shared_ptr<scripted_server> server, bool tls) {
    const auto executor = co_await asio::this_coro::executor;
    auto options = test_client_options();
    if (tls) {
        const lh::host_settings settings{false, true, (test_pki::get().dir() / "certs").string()};
        options.settings_for = [settings](std::string_view) { return settings; };
    }
    lh::client client(executor, options);
    remote_registry reg(client, options_for(*server));
    auto d = digest_of("x");
    auto has = co_await reg.has_blob(repo, d);
    REQUIRE(has.has_error());
    const auto& message = has.error().message;
    CAPTURE(message);
    CHECK(has.error().code == errc::not_found);
    CHECK(has.error().http_status == 404);
    CHECK(contains(message, server->host_port() + " is not an OCI registry"));
    CHECK(contains(message, "404"));
    // Nothing but the version check was sent, and a 404 is not retried.
    CHECK(server->count("GET", "/v2/") == 1);
    CHECK(server->requests.size() == 1);
}

reply not_a_registry(const recorded&) {
    return respond(404, "<html>no such page</html>", {{"Content-Type", "text/html"}});
}

TEST_CASE("ping: an HTTPS server whose /v2/ is 404 gives an error naming the registry") {
    asio::io_context io;
    server_options server_opts;
    server_opts.tls = test_pki::get().server_context();
    auto server = scripted_server::start(io, not_a_registry, server_opts);
    run(io, not_a_registry_case(server, true));
}

// Regression: when HTTPS failed and plain HTTP answered /v2/ with 404, remote_registry reported the HTTPS
// connection failure and dropped the 404, so the user read about TLS instead of learning that the host is not
// a registry.
TEST_CASE("ping: a plain-HTTP loopback server whose /v2/ is 404 gives an error naming the registry") {
    asio::io_context io;
    auto server = scripted_server::start(io, not_a_registry);
    run(io, not_a_registry_case(server, false));
}

// Regression: a plain-HTTP loopback registry answering /v2/ with 1 MiB of headers was reported as "does not
// speak TLS ... must be marked insecure", the HTTPS attempt's failure, instead of the headers over the limit.
asio::awaitable<void> oversized_headers_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    auto has = co_await reg.has_blob("repo", digest_of("x"));
    REQUIRE(has.has_error());
    const auto& message = has.error().message;
    CAPTURE(message);
    CHECK(contains(message, "cannot reach registry " + server->host_port()));
    CHECK(contains(message, "GET http://" + server->host_port() + "/v2/"));
    CHECK(contains(message, "the response headers are larger than 64 KiB"));
    CHECK(!contains(message, "TLS"));
    CHECK(has.error().code == errc::too_large);
    CHECK(server->not_http >= 1); // HTTPS was tried first
}

TEST_CASE("ping: a plain-HTTP server whose headers are over the limit is reported as such, not as TLS") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded&) {
        return respond(200, "{}", {{"X-Padding", std::string(1024 * 1024, 'a')}});
    });
    run(io, oversized_headers_case(server));
}

asio::awaitable<void> shared_failure_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    auto options = test_client_options();
    const lh::host_settings settings{false, true, (test_pki::get().dir() / "certs").string()};
    options.settings_for = [settings](std::string_view) { return settings; };
    lh::client client(executor, options);
    remote_registry reg(client, options_for(*server));
    int succeeded = 0;
    std::vector<asio::awaitable<void>> tasks;
    for (int i = 0; i < 4; ++i)
        tasks.push_back(expect_failure(&reg, "tag" + std::to_string(i), server->host_port(), &succeeded));
    co_await run_concurrently(std::move(tasks));
    CHECK(succeeded == 0);
    CHECK(server->count("GET", "/v2/") == 1);
}

// Regression (fixed by the single-flight ping): requests that waited for a ping in flight start their own
// ping, one after another, when it fails. With retries on a registry answering /v2/ with 5xx, N parallel
// transfers send N rounds of retried pings before they all fail.
TEST_CASE("ping: concurrent requests share the outcome of one failed version check") {
    asio::io_context io;
    server_options server_opts;
    server_opts.tls = test_pki::get().server_context();
    auto server = scripted_server::start(io, not_a_registry, server_opts);
    run(io, shared_failure_case(server));
}

// --- auth ------------------------------------------------------------------------------------------------

struct basic_row {
    const char* name;
    std::optional<credential> cred;
    std::string header; ///< the Authorization the server expects; "" for none
};

asio::awaitable<void> basic_case(std::shared_ptr<scripted_server> server, basic_row row) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server, row.cred));
    auto d = digest_of("layer");
    auto has = co_await reg.has_blob(repo, d);
    const auto& head = server->requests.back();
    CHECK(head.method == "HEAD");
    CHECK(head.header("Authorization") == row.header);
    if (row.cred) {
        REQUIRE_MESSAGE(has.has_value(), has.error().message);
        CHECK(*has);
    } else {
        REQUIRE(has.has_error());
        CHECK(has.error().code == errc::unauthorized);
        CHECK(has.error().http_status == 401);
    }
    CHECK(server->count("GET", "/token") == 0);
    CHECK(reg.stats().token_fetches == 0);
}

TEST_CASE("Basic auth when /v2/ challenges with Basic") {
    const basic_row rows[] = {
        {"ascii", user_password("user", "pass"), "Basic dXNlcjpwYXNz"},
        {"colon and space in the password", user_password("alice", "p:ss w0rd"),
         "Basic YWxpY2U6cDpzcyB3MHJk"},
        {"UTF-8", user_password("ünï", "🔑"), "Basic w7xuw6868J+UkQ=="},
        {"no credentials", std::nullopt, ""},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        asio::io_context io;
        auto server = scripted_server::start(io, [expected = row.header](const recorded& r) {
            if (!expected.empty() && r.header("Authorization") == expected && !is_ping(r)) return ok("");
            return respond(401, "", {{"WWW-Authenticate", "Basic realm=\"registry.test\""}});
        });
        run(io, basic_case(server, row));
    }
}

struct bearer_row {
    const char* name;
    bool ping_challenges; ///< /v2/ answers 401 with the challenge; otherwise 200 and the first request 401
};

asio::awaitable<void> bearer_case(std::shared_ptr<scripted_server> server, bearer_row row) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server, user_password("user", "pass")));

    int succeeded = 0;
    co_await get_concurrently(&reg, 4, &succeeded);
    CHECK(succeeded == 4);
    // The cached token serves a later request with the same scope.
    const std::string tag = "later";
    auto later = co_await reg.get_manifest(repo, tag);
    REQUIRE_MESSAGE(later.has_value(), later.error().message);

    CHECK(server->count("GET", "/token") == 1);
    CHECK(reg.stats().token_fetches == 1);
    for (const auto& r : server->requests) {
        if (r.path() != "/token") continue;
        CHECK(r.query("service") == std::vector<std::string>{"registry.test"});
        CHECK(r.query("scope") == std::vector<std::string>{"repository:library/alpine:pull"});
        CHECK(r.header("Authorization") == "Basic dXNlcjpwYXNz");
    }
    int with_token = 0;
    int without = 0;
    for (const auto& r : server->requests) {
        if (!r.path().starts_with("/v2/" + repo)) continue;
        const auto auth = r.header("Authorization");
        if (auth == "Bearer tok-1") ++with_token;
        if (auth.empty()) ++without;
    }
    CHECK(with_token == 5);
    if (row.ping_challenges) {
        CHECK(without == 0);
    } else {
        // Sent without a token, answered 401, and sent again with one: at least the first request, at most
        // the four that started before any token was there.
        CHECK(without >= 1);
        CHECK(without <= 4);
    }
}

TEST_CASE("Bearer: 401, one token from the realm for concurrent requests, the Bearer retry, the cache") {
    const bearer_row rows[] = {
        {"challenge on /v2/", true},
        {"anonymous /v2/, challenge on the first request", false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        asio::io_context io;
        auto server = scripted_server::start(io, [row, tokens = 0](const recorded& r) mutable {
            if (is_ping(r)) {
                if (!row.ping_challenges) return ok("{}");
                return respond(401, "", {{"WWW-Authenticate", bearer_challenge(r)}});
            }
            if (r.path() == "/token") {
                // Slow enough that the other requests arrive while it is being fetched.
                auto answer = token_reply(++tokens);
                answer.stall = 50ms;
                return answer;
            }
            if (r.header("Authorization") != "Bearer tok-1")
                return respond(
                    401, "",
                    {{"WWW-Authenticate", bearer_challenge(r, ",scope=\"repository:library/alpine:pull\"")}});
            return manifest_reply(image_manifest(r.path()));
        });
        run(io, bearer_case(server, row));
    }
}

/// The token server issues tok-1, tok-2, ...; manifests accept the tokens from tok-`oldest_valid` on.
struct token_registry {
    int tokens = 0;
    int oldest_valid = 1;
    std::vector<std::string> stall_paths; ///< 401s on these paths are answered after 200 ms

    bool valid(std::string_view authorization) const {
        const std::string_view prefix = "Bearer tok-";
        if (!authorization.starts_with(prefix)) return false;
        const int n = std::atoi(std::string(authorization.substr(prefix.size())).c_str());
        return n >= oldest_valid && n <= tokens;
    }

    reply operator()(const recorded& r) {
        if (is_ping(r)) return respond(401, "", {{"WWW-Authenticate", bearer_challenge(r)}});
        if (r.path() == "/token") return token_reply(++tokens);
        if (valid(r.header("Authorization"))) return manifest_reply(image_manifest(r.path()));
        auto answer = respond(401, R"({"errors":[{"code":"UNAUTHORIZED","message":"token expired"}]})",
                              {{"WWW-Authenticate", bearer_challenge(r, ",error=\"invalid_token\"")}});
        if (std::find(stall_paths.begin(), stall_paths.end(), r.path()) != stall_paths.end())
            answer.stall = 200ms;
        return answer;
    }
};

asio::awaitable<void> expiry_case(std::shared_ptr<scripted_server> server,
                                  std::shared_ptr<token_registry> state) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    const std::string tag = "latest";
    const std::string path = "/v2/" + repo + "/manifests/latest";

    auto first = co_await reg.get_manifest(repo, tag);
    REQUIRE_MESSAGE(first.has_value(), first.error().message);
    CHECK(reg.stats().token_fetches == 1);

    // tok-1 expired: one fresh token, one retry.
    state->oldest_valid = 2;
    auto mark = server->requests.size();
    auto second = co_await reg.get_manifest(repo, tag);
    REQUIRE_MESSAGE(second.has_value(), second.error().message);
    CHECK(reg.stats().token_fetches == 2);
    REQUIRE(server->requests.size() == mark + 3);
    CHECK(server->requests[mark].path() == path);
    CHECK(server->requests[mark].header("Authorization") == "Bearer tok-1");
    CHECK(server->requests[mark + 1].path() == "/token");
    CHECK(server->requests[mark + 2].path() == path);
    CHECK(server->requests[mark + 2].header("Authorization") == "Bearer tok-2");

    // The fresh token is rejected too: that second 401 is final.
    state->oldest_valid = 1000;
    mark = server->requests.size();
    auto third = co_await reg.get_manifest(repo, tag);
    REQUIRE(third.has_error());
    CHECK(third.error().code == errc::unauthorized);
    CHECK(third.error().http_status == 401);
    CHECK(contains(third.error().message, "check the credentials"));
    CHECK(reg.stats().token_fetches == 3);
    REQUIRE(server->requests.size() == mark + 3);
    CHECK(server->requests[mark].header("Authorization") == "Bearer tok-2");
    CHECK(server->requests[mark + 1].path() == "/token");
    CHECK(server->requests[mark + 2].header("Authorization") == "Bearer tok-3");
}

asio::awaitable<void> prepare_case(std::shared_ptr<scripted_server> server, std::vector<std::string> repos,
                                   repository_access access, std::vector<std::size_t> batches) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    co_await reg.prepare(repos, access);
    std::vector<std::size_t> asked;
    std::vector<std::string> scopes;
    for (const auto& r : server->requests)
        if (r.path() == "/token") {
            CHECK(r.target.size() < 4000); // a request line proxies take
            asked.push_back(r.query("scope").size());
            for (auto& sc : r.query("scope"))
                scopes.push_back(sc);
        }
    std::sort(asked.rbegin(), asked.rend());
    CHECK(asked == batches);
    const std::string actions = access == repository_access::push ? ":pull,push" : ":pull";
    std::vector<std::string> expected;
    for (const auto& name : repos)
        expected.push_back("repository:" + name + actions);
    std::sort(scopes.begin(), scopes.end());
    std::sort(expected.begin(), expected.end());
    CHECK(scopes == expected);
    // Every repository's reads are authorized by a cached token now: no further token request.
    const auto fetched = reg.stats().token_fetches;
    for (const auto& name : repos) {
        auto m = co_await reg.get_manifest(name, "latest");
        CHECK_MESSAGE(m.has_value(), (m ? std::string() : m.error().message));
    }
    CHECK(reg.stats().token_fetches == fetched);
}

TEST_CASE("prepare: one token request for up to 10 repositories' scopes (2,000 bytes), cached for each") {
    struct row {
        const char* name;
        std::size_t count;
        std::size_t name_length; ///< of each repository name
        repository_access access;
        std::vector<std::size_t> batches;
    };
    const std::vector<row> rows{
        {"25 short names: 10, 10, 5", 25, 8, repository_access::pull, {10, 10, 5}},
        {"push tokens also read", 12, 8, repository_access::push, {10, 2}},
        {"names of 180 bytes: still 10 per request", 12, 180, repository_access::pull, {10, 2}},
        {"names of 250 bytes: the 2,000 bytes bound the batch to 7",
         12,
         250,
         repository_access::pull,
         {7, 5}},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        std::vector<std::string> repos;
        for (std::size_t i = 0; i < r.count; ++i) {
            auto name = fmt::format("team/r{:02}", i);
            name += std::string(r.name_length - std::min(r.name_length, name.size()), 'a');
            repos.push_back(name);
        }
        asio::io_context io;
        // Tokens are "tok-+NAME+NAME+": a manifest answers only a token that names its repository.
        auto server = scripted_server::start(io, [](const recorded& req) {
            if (is_ping(req)) return respond(401, "", {{"WWW-Authenticate", bearer_challenge(req)}});
            if (req.path() == "/token") {
                std::string granted = "+";
                for (const auto& sc : req.query("scope"))
                    granted += sc.substr(sc.find(':') + 1, sc.rfind(':') - sc.find(':') - 1) + "+";
                return ok(R"({"token":"tok-)" + granted + R"(","expires_in":300})");
            }
            const auto name = req.path().substr(4, req.path().find("/manifests/") - 4);
            if (!contains(req.header("Authorization"), "+" + name + "+"))
                return respond(401, "", {{"WWW-Authenticate", bearer_challenge(req)}});
            return manifest_reply(image_manifest(name));
        });
        run(io, prepare_case(server, repos, r.access, r.batches));
    }
}

asio::awaitable<void> prepare_warms_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    auto options = options_for(*server);
    options.warm_connections = 3;
    remote_registry reg(client, options);
    const std::vector<std::string> repos{"a/one", "a/two", "a/three", "a/four", "a/five"};
    co_await reg.prepare(repos, repository_access::pull);
    // Connections: the HTTPS probe of the loopback ping (refused), the ping's, and two opened ahead in the
    // background. Wait for them, then a little longer for any that should not be there.
    asio::steady_timer timer(executor);
    for (int i = 0; i < 400 && reg.stats().connections < 4; ++i) {
        timer.expires_after(5ms);
        co_await timer.async_wait(asio::use_awaitable);
    }
    timer.expires_after(30ms);
    co_await timer.async_wait(asio::use_awaitable);
    CHECK(reg.stats().connections == 4);
    CHECK(server->requests.size() == 1);
    // Three GETs at once find three open.
    std::function<asio::awaitable<void>(std::size_t)> get = [&](std::size_t i) -> asio::awaitable<void> {
        auto m = co_await reg.get_manifest(repos[i], "latest");
        CHECK_MESSAGE(m.has_value(), (m ? std::string() : m.error().message));
    };
    co_await detail::for_each_bounded(3, 3, get);
    CHECK(reg.stats().connections == 4);
}

TEST_CASE("prepare: a connection per repository opens ahead of their requests, at most warm_connections") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded& r) {
        if (is_ping(r)) return ok("{}");
        auto answer = manifest_reply(image_manifest(r.path()));
        answer.stall = 50ms;
        return answer;
    });
    run(io, prepare_warms_case(server));
    CHECK(server->connections == 4);
    CHECK(server->requests.size() == 4);
}

TEST_CASE("Bearer: a 401 on a cached token fetches a fresh one once and retries; a second 401 is final") {
    asio::io_context io;
    auto state = std::make_shared<token_registry>();
    auto server = scripted_server::start(io, [state](const recorded& r) { return (*state)(r); });
    run(io, expiry_case(server, state));
}

asio::awaitable<void> stale_401_case(std::shared_ptr<scripted_server> server,
                                     std::shared_ptr<token_registry> state) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    int succeeded = 0;
    co_await get_concurrently(&reg, 1, &succeeded);
    REQUIRE(succeeded == 1);

    // Both requests go out with tok-1; the 401 for tag1 comes back at once and gets tok-2, the one for tag0
    // only after that. tag0 should then use tok-2, not throw it away and fetch tok-3.
    state->oldest_valid = 2;
    state->stall_paths = {"/v2/" + repo + "/manifests/tag0"};
    co_await get_concurrently(&reg, 2, &succeeded);
    CHECK(succeeded == 3);
    CHECK(state->tokens == 2);
    CHECK(reg.stats().token_fetches == 2);
}

// Regression: re-authentication invalidated whatever the cache holds for the scope, even a token fetched
// after the request that got the 401 was sent. Parallel transfers whose 401s come back at different times
// each throw away the token the previous one just fetched: one token request per transfer instead of one in
// all.
TEST_CASE("Bearer: a 401 for an old token reuses a fresh token fetched meanwhile") {
    asio::io_context io;
    auto state = std::make_shared<token_registry>();
    auto server = scripted_server::start(io, [state](const recorded& r) { return (*state)(r); });
    run(io, stale_401_case(server, state));
}

asio::awaitable<void> insufficient_scope_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server, user_password("reader", "secret")));
    auto m = parse_manifest(image_manifest("push me"), manifest_type);
    REQUIRE(m.has_value());
    const std::string tag = "v1";
    auto pushed = co_await reg.put_manifest(repo, tag, *m);
    REQUIRE(pushed.has_error());
    const auto& message = pushed.error().message;
    CAPTURE(message);
    CHECK(pushed.error().code == errc::denied);
    CHECK(pushed.error().http_status == 401);
    CHECK(contains(message, "insufficient_scope"));
    CHECK(contains(message, "lack the permission"));
    CHECK(contains(message, server->host_port()));
    // Sent with a token, then once more with a fresh one, both for push.
    CHECK(server->count("PUT", "/v2/" + repo + "/manifests/v1") == 2);
    CHECK(server->count("GET", "/token") == 2);
    for (const auto& r : server->requests)
        if (r.path() == "/token")
            CHECK(r.query("scope") == std::vector<std::string>{"repository:library/alpine:pull,push"});
}

TEST_CASE("Bearer: insufficient_scope after re-authenticating is errc::denied, saying what is missing") {
    asio::io_context io;
    auto server = scripted_server::start(io, [tokens = 0](const recorded& r) mutable {
        if (is_ping(r)) return respond(401, "", {{"WWW-Authenticate", bearer_challenge(r)}});
        if (r.path() == "/token") return token_reply(++tokens);
        return respond(
            401, R"({"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]})",
            {{"WWW-Authenticate",
              bearer_challenge(
                  r, ",scope=\"repository:library/alpine:pull,push\",error=\"insufficient_scope\"")}});
    });
    run(io, insufficient_scope_case(server));
}

// --- retries ---------------------------------------------------------------------------------------------

struct retry_row {
    const char* name;
    int status;
    int failures; ///< answers with `status` before a 200; -1: always
    const char* retry_after;
};

asio::awaitable<void> retry_case(std::shared_ptr<scripted_server> server, retry_row row) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    const std::string tag = "latest";
    const auto started = std::chrono::steady_clock::now();
    auto m = co_await reg.get_manifest(repo, tag);
    CHECK(std::chrono::steady_clock::now() - started < 2s);
    const int hits = server->count("GET", "/v2/" + repo + "/manifests/latest");
    if (row.failures >= 0) {
        REQUIRE_MESSAGE(m.has_value(), m.error().message);
        CHECK(hits == row.failures + 1);
        CHECK(reg.stats().retries == static_cast<std::uint64_t>(row.failures));
    } else {
        REQUIRE(m.has_error());
        CHECK(m.error().http_status == row.status);
        CHECK(m.error().code == (row.status == 429 ? errc::too_many_requests : errc::server_error));
        CHECK(contains(m.error().message, std::to_string(row.status)));
        CHECK(contains(m.error().message, "/v2/" + repo + "/manifests/latest"));
        CHECK(hits == 3); // retry.max_attempts
        CHECK(reg.stats().retries == 2);
        // The attempts are spent: the copy engine above does not send the request again (retry.hpp).
        CHECK(m.error().attempts == 3);
        CHECK_FALSE(retry_transfer(m.error(), 1, false, options_for(*server).retry));
    }
}

TEST_CASE("retries: 429 and 5xx are sent again with backoff, up to retry.max_attempts") {
    const retry_row rows[] = {
        {"one 503", 503, 1, nullptr},
        {"one 503 with Retry-After: 0", 503, 1, "0"},
        {"two 503s with Retry-After: 0", 503, 2, "0"},
        {"one 502", 502, 1, nullptr},
        {"one 429 with Retry-After: 0", 429, 1, "0"},
        {"always 503", 503, -1, nullptr},
        {"always 503 with Retry-After: 0", 503, -1, "0"},
        {"always 429", 429, -1, "0"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        asio::io_context io;
        auto server = scripted_server::start(io, [row, hits = 0](const recorded& r) mutable {
            if (is_ping(r)) return ok("{}");
            if (row.failures < 0 || ++hits <= row.failures) {
                lh::fields headers;
                if (row.retry_after) headers.emplace_back("Retry-After", row.retry_after);
                return respond(row.status, "busy", headers);
            }
            return manifest_reply(image_manifest("fine"));
        });
        run(io, retry_case(server, row));
    }
}

// --- manifests -------------------------------------------------------------------------------------------

struct manifest_row {
    const char* name;
    std::string ref;
    std::string body;
    std::string content_digest; ///< Docker-Content-Digest; "" for none
    bool accepted;
};

asio::awaitable<void> get_manifest_case(std::shared_ptr<scripted_server> server, manifest_row row) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    auto m = co_await reg.get_manifest(repo, row.ref);
    CHECK(server->requests.back().target == "/v2/" + repo + "/manifests/" + row.ref);
    CHECK(contains(server->requests.back().header("Accept"), manifest_type));
    if (row.accepted) {
        REQUIRE_MESSAGE(m.has_value(), m.error().message);
        CHECK(m->bytes == row.body);
        CHECK(m->digest == digest_of(row.body));
        CHECK(m->media_type == manifest_type);
    } else {
        REQUIRE(m.has_error());
        CAPTURE(m.error().message);
        CHECK(m.error().code == errc::digest_mismatch);
        CHECK(contains(m.error().message, server->host_port() + "/" + repo));
        CHECK(contains(m.error().message, digest_of(row.body).str()));
    }
}

TEST_CASE("get_manifest: the bytes are checked against the digest asked for and Docker-Content-Digest") {
    const auto a = image_manifest("a");
    const auto b = image_manifest("b");
    const auto da = digest_of(a).str();
    const auto db = digest_of(b).str();
    const manifest_row rows[] = {
        {"by digest, the right bytes", da, a, "", true},
        {"by digest, the right bytes and header", da, a, da, true},
        {"by digest, other bytes", da, b, "", false},
        {"by digest, other bytes under the right header", da, b, da, false},
        {"by tag, matching header", "latest", a, da, true},
        {"by tag, no header", "latest", a, "", true},
        {"by tag, the header names other bytes", "latest", a, db, false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        asio::io_context io;
        auto server = scripted_server::start(io, [row](const recorded& r) {
            if (is_ping(r)) return ok("{}");
            lh::fields headers;
            if (!row.content_digest.empty())
                headers.emplace_back("Docker-Content-Digest", row.content_digest);
            return manifest_reply(row.body, headers);
        });
        run(io, get_manifest_case(server, row));
    }
}

struct head_row {
    const char* name;
    bool found;
    bool digest_header;
};

asio::awaitable<void> head_manifest_case(std::shared_ptr<scripted_server> server, head_row row,
                                         std::string body) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    const std::string tag = "latest";
    auto d = co_await reg.head_manifest(repo, tag);
    REQUIRE_MESSAGE(d.has_value(), d.error().message);
    const std::string path = "/v2/" + repo + "/manifests/latest";
    CHECK(server->count("HEAD", path) == 1);
    // Without Docker-Content-Digest the digest is only known from the bytes: one GET.
    CHECK(server->count("GET", path) == (row.found && !row.digest_header ? 1 : 0));
    if (!row.found) {
        CHECK_FALSE(d->has_value());
        co_return;
    }
    REQUIRE(d->has_value());
    CHECK((*d)->digest == digest_of(body));
    CHECK((*d)->size == static_cast<std::int64_t>(body.size()));
    CHECK((*d)->media_type == manifest_type);
}

TEST_CASE("head_manifest: the descriptor from the headers, or from a GET when the digest header is missing") {
    const auto body = image_manifest("headed");
    const head_row rows[] = {
        {"with Docker-Content-Digest", true, true},
        {"without Docker-Content-Digest", true, false},
        {"not found", false, false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        asio::io_context io;
        auto server = scripted_server::start(io, [row, body](const recorded& r) {
            if (is_ping(r)) return ok("{}");
            if (!row.found) return respond(404, "");
            if (r.method == "GET") return manifest_reply(body);
            lh::fields headers{{"Content-Type", manifest_type},
                               {"Content-Length", std::to_string(body.size())}};
            if (row.digest_header) headers.emplace_back("Docker-Content-Digest", digest_of(body).str());
            return respond(200, "", headers);
        });
        run(io, head_manifest_case(server, row, body));
    }
}

// --- blobs -----------------------------------------------------------------------------------------------

/// A blob_reader over bytes in memory.
class string_reader final : public blob_reader {
public:
    explicit string_reader(std::string bytes) : bytes_(std::move(bytes)) {}

    asio::awaitable<result<std::size_t>> read(std::span<std::byte> buffer) override {
        const auto n = std::min(buffer.size(), bytes_.size() - at_);
        std::copy_n(reinterpret_cast<const std::byte*>(bytes_.data() + at_), n, buffer.data());
        at_ += n;
        co_return n;
    }

private:
    std::string bytes_;
    std::size_t at_ = 0;
};

asio::awaitable<result<std::string>> read_all(blob_reader& reader) {
    std::string out;
    std::vector<std::byte> buffer(64 * 1024);
    for (;;) {
        const std::span<std::byte> window(buffer);
        auto n = co_await reader.read(window);
        if (!n) co_return n.error();
        if (*n == 0) co_return out;
        out.append(reinterpret_cast<const char*>(buffer.data()), *n);
    }
}

/// The descriptor of a gzip layer holding `blob`.
descriptor layer_descriptor(const std::string& blob) {
    descriptor desc;
    desc.media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
    desc.digest = digest_of(blob);
    desc.size = static_cast<std::int64_t>(blob.size());
    return desc;
}

constexpr std::size_t blob_size = 300'000;
constexpr std::size_t break_at = 100'000;

asio::awaitable<void> download_case(std::shared_ptr<scripted_server> server, std::string blob) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    const auto desc = layer_descriptor(blob);
    auto reader = co_await reg.get_blob(repo, desc);
    REQUIRE_MESSAGE(reader.has_value(), reader.error().message);
    auto bytes = co_await read_all(**reader);
    REQUIRE_MESSAGE(bytes.has_value(), bytes.error().message);
    CHECK(bytes->size() == blob.size());
    CHECK(*bytes == blob);

    const std::string path = "/v2/" + repo + "/blobs/" + desc.digest.str();
    REQUIRE(server->count("GET", path) == 2);
    std::vector<std::string> ranges;
    for (const auto& r : server->requests)
        if (r.path() == path) ranges.push_back(r.header("Range"));
    CHECK(ranges == std::vector<std::string>{"", "bytes=" + std::to_string(break_at) + "-"});
    CHECK(reg.stats().retries == 1);
}

TEST_CASE("get_blob: a download broken mid-body resumes with Range and reads exactly the blob") {
    const std::string blob = pattern(blob_size);
    for (const bool honours_range : {true, false}) {
        CAPTURE(honours_range);
        asio::io_context io;
        auto server = scripted_server::start(io, [&blob, honours_range, gets = 0](const recorded& r) mutable {
            if (is_ping(r)) return ok("{}");
            if (++gets == 1) return truncated(200, blob, break_at);
            if (!honours_range) return ok(blob);
            const auto rest = std::string_view(blob).substr(break_at);
            return respond(
                206, rest,
                {{"Content-Range", "bytes " + std::to_string(break_at) + "-" +
                                       std::to_string(blob.size() - 1) + "/" + std::to_string(blob.size())}});
        });
        run(io, download_case(server, blob));
    }
}

/// How the first blob GETs of slow_blob_case misbehave; the GETs after them are answered at once.
enum class slowness { trickle, stall };

/// Answers a blob GET: 206 from the requested offset when there is a Range, else 200; the first `slow_gets`
/// send 100,000 bytes at once and then either trickle (10 bytes every 50 ms: 200 B/s) or stall.
struct slow_blob_registry {
    std::string blob;
    slowness how;
    int slow_gets;
    int gets = 0;

    reply operator()(const recorded& r) {
        if (is_ping(r)) return ok("{}");
        std::size_t from = 0;
        if (const auto range = r.header("Range"); range.starts_with("bytes="))
            from = std::stoul(range.substr(6, range.find('-') - 6));
        const auto rest = std::string_view(blob).substr(from);
        lh::fields headers;
        if (from > 0)
            headers.emplace_back("Content-Range", "bytes " + std::to_string(from) + "-" +
                                                      std::to_string(blob.size() - 1) + "/" +
                                                      std::to_string(blob.size()));
        const int status = from > 0 ? 206 : 200;
        if (++gets > slow_gets) return respond(status, rest, headers);
        if (how == slowness::trickle) return trickling(status, rest, 100'000, 10, 50ms, headers);
        return trickling(status, rest, 100'000, rest.size(), 60s, headers);
    }
};

asio::awaitable<void> slow_blob_case(std::shared_ptr<scripted_server> server, std::string blob, slowness how,
                                     int slow_gets) {
    const auto executor = co_await asio::this_coro::executor;
    auto client_options = test_client_options();
    client_options.idle_timeout = 60s; // only the minimum rate can end a slow body within the test's time
    client_options.min_rate.bytes_per_second = 64 * 1024;
    client_options.min_rate.window = 1s;
    auto notes = std::make_shared<std::vector<std::string>>();
    client_options.debug = [notes](std::string_view text) { notes->emplace_back(text); };
    lh::client client(executor, client_options);
    remote_registry reg(client, options_for(*server));
    const auto desc = layer_descriptor(blob);
    const std::string path = "/v2/" + repo + "/blobs/" + desc.digest.str();
    auto reader = co_await reg.get_blob(repo, desc);
    REQUIRE_MESSAGE(reader.has_value(), reader.error().message);
    const auto started = std::chrono::steady_clock::now();
    auto bytes = co_await read_all(**reader);
    const auto elapsed = std::chrono::steady_clock::now() - started;

    std::vector<std::size_t> starts;
    for (const auto& r : server->requests)
        if (r.path() == path)
            starts.push_back(r.header("Range").empty() ? 0 : std::stoul(r.header("Range").substr(6)));
    const std::string below = "the body arrived at ";
    const std::string minimum = "/s, below the minimum of 64 KiB/s over 1s";
    if (slow_gets < 3) {
        // Regression (issue 10): a blob trickling at 200 B/s was read to its end (25 minutes for this one),
        // and a stalled one waited out the idle timeout, on every attempt.
        REQUIRE_MESSAGE(bytes.has_value(), bytes.error().message);
        CHECK(*bytes == blob);
        REQUIRE(starts.size() == static_cast<std::size_t>(slow_gets) + 1);
        CHECK(starts[0] == 0);
        for (std::size_t i = 1; i < starts.size(); ++i) {
            // Each resume starts where the bytes stopped: after the 100,000 sent at once, and for a trickle
            // what trickled in before the window ran out.
            CHECK(starts[i] >= starts[i - 1] + 100'000);
            if (how == slowness::stall) CHECK(starts[i] == starts[i - 1] + 100'000);
            if (how == slowness::trickle) CHECK(starts[i] < starts[i - 1] + 100'000 + 1000);
        }
        CHECK(reg.stats().retries == static_cast<std::uint64_t>(slow_gets));
        // --debug says why the blob was resumed.
        const auto resumed = std::count_if(notes->begin(), notes->end(), [&](const std::string& note) {
            return note.starts_with("blob " + desc.digest.str() + " from " + server->host_port() + "/" +
                                    repo + ": GET ") &&
                   contains(note, below) && contains(note, minimum) && contains(note, "; resuming at byte ");
        });
        CHECK(resumed == slow_gets);
    } else {
        // Slow on every attempt: the error says which blob, where from, and how slow.
        REQUIRE(bytes.has_error());
        CAPTURE(bytes.error().message);
        CHECK(bytes.error().code == errc::timeout);
        CHECK(bytes.error().message.starts_with("downloading blob " + desc.digest.str() + " from " +
                                                server->host_port() + "/" + repo + ": GET "));
        CHECK(contains(bytes.error().message, below));
        CHECK(contains(bytes.error().message, minimum));
        CHECK(starts.size() == 3); // retry.max_attempts
        CHECK(bytes.error().attempts == 3);
    }
    CHECK(elapsed < std::chrono::seconds(3 * slow_gets + 5));
}

TEST_CASE(
    "get_blob: a blob trickling or stalling below the minimum rate resumes with Range after the window") {
    const std::string blob = pattern(1'000'000);
    for (const auto how : {slowness::trickle, slowness::stall})
        for (const int slow_gets : {1, 3}) {
            CAPTURE(how == slowness::trickle ? "trickle" : "stall");
            CAPTURE(slow_gets);
            asio::io_context io;
            auto server = scripted_server::start(io, slow_blob_registry{blob, how, slow_gets});
            run(io, slow_blob_case(server, blob, how, slow_gets), 30s);
        }
}

/// A registry that refuses monolithic PUTs (405) and takes PATCH chunks; upload sessions are kept by path.
struct upload_registry {
    std::map<std::string, std::string> sessions;  ///< path -> the bytes received
    std::map<std::string, std::string> committed; ///< digest -> bytes
    int opened = 0;
    bool break_first_patch = true;

    std::optional<std::size_t> cut(const recorded& head) {
        if (head.method != "PATCH" || !break_first_patch) return std::nullopt;
        break_first_patch = false;
        return 70'000;
    }

    reply operator()(const recorded& r) {
        const std::string uploads = "/v2/" + repo + "/blobs/uploads/";
        if (is_ping(r)) return ok("{}");
        if (r.method == "POST" && r.path() == uploads) {
            const auto location = uploads + "session-" + std::to_string(++opened);
            sessions[location];
            return respond(202, "", {{"Location", location}, {"Range", "0-0"}});
        }
        auto session = sessions.find(r.path());
        if (session == sessions.end()) return respond(404, R"({"errors":[{"code":"BLOB_UPLOAD_UNKNOWN"}]})");
        auto& held = session->second;
        const auto range = [&held]() {
            return held.empty() ? std::string("0-0") : "0-" + std::to_string(held.size() - 1);
        };
        if (r.method == "PATCH") {
            const auto from = r.header("Content-Range").substr(0, r.header("Content-Range").find('-'));
            if (from != std::to_string(held.size()))
                return respond(416, R"({"errors":[{"code":"BLOB_UPLOAD_INVALID"}]})");
            held += r.body;
            return respond(202, "", {{"Location", r.path()}, {"Range", range()}});
        }
        if (r.method == "GET") return respond(204, "", {{"Location", r.path()}, {"Range", range()}});
        if (r.method == "PUT" && !r.body.empty())
            return respond(405, R"({"errors":[{"code":"UNSUPPORTED","message":"send chunks"}]})");
        if (r.method == "PUT") {
            const auto digests = r.query("digest");
            if (digests.size() != 1 || digest_of(held).str() != digests[0])
                return respond(400, R"({"errors":[{"code":"DIGEST_INVALID"}]})");
            committed[digests[0]] = held;
            sessions.erase(session);
            return respond(201, "", {{"Docker-Content-Digest", digests[0]}});
        }
        return respond(405, "");
    }
};

asio::awaitable<void> upload_case(std::shared_ptr<scripted_server> server,
                                  std::shared_ptr<upload_registry> state, std::string blob) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    const auto desc = layer_descriptor(blob);
    const std::optional<digest> d = desc.digest;
    const std::optional<std::string> no_mount;

    // The monolithic PUT is refused.
    auto first = co_await reg.start_upload(repo, d, no_mount);
    REQUIRE_MESSAGE(first.has_value(), first.error().message);
    REQUIRE(first->has_value());
    string_reader reader1(blob);
    auto refused = co_await reg.finish_upload(**first, desc, reader1);
    REQUIRE(refused.has_error());
    CAPTURE(refused.error().message);
    CHECK(refused.error().code == errc::unsupported);
    CHECK(contains(refused.error().message, desc.digest.str()));
    CHECK(server->count("PATCH", "/v2/" + repo + "/blobs/uploads/session-1") == 0);
    // The single POST went first (this registry opens a session instead), then the PUT into that session,
    // refused; the session opened inside finish_upload is given back.
    REQUIRE(server->requests.size() >= 3);
    const auto& put = server->requests[server->requests.size() - 2];
    CHECK(put.method == "PUT");
    CHECK(put.body == blob);
    CHECK(server->requests.back().method == "DELETE");
    CHECK(server->requests.back().path() == "/v2/" + repo + "/blobs/uploads/session-1");

    // The next upload to this registry goes in PATCH chunks; the first PATCH breaks after 70,000 bytes.
    auto second = co_await reg.start_upload(repo, d, no_mount);
    REQUIRE_MESSAGE(second.has_value(), second.error().message);
    REQUIRE(second->has_value());
    const auto mark = server->requests.size();
    string_reader reader2(blob);
    auto sent = co_await reg.finish_upload(**second, desc, reader2);
    REQUIRE_MESSAGE(sent.has_value(), sent.error().message);

    REQUIRE(state->committed.count(desc.digest.str()) == 1);
    CHECK(state->committed[desc.digest.str()] == blob);
    CHECK(reg.stats().upload_resumes == 1);

    const std::string session = "/v2/" + repo + "/blobs/uploads/session-2";
    std::vector<std::string> seen;
    for (auto i = mark; i < server->requests.size(); ++i) {
        const auto& r = server->requests[i];
        CHECK(r.path() == session);
        seen.push_back(r.method + " " + r.header("Content-Range") + (r.broken ? " broken" : ""));
    }
    const std::vector<std::string> expected{
        "PATCH 0-" + std::to_string(blob.size() - 1) + " broken",
        "GET ",
        "PATCH 70000-" + std::to_string(blob.size() - 1),
        "PUT ",
    };
    CHECK(seen == expected);
    CHECK(server->requests[mark].body.size() == 70'000);
    CHECK(server->requests[mark + 2].body == blob.substr(70'000));
    CHECK(server->requests.back().query("digest") == std::vector<std::string>{desc.digest.str()});
}

TEST_CASE("uploads: a refused monolithic PUT switches the registry to PATCH chunks; a broken PATCH resumes") {
    asio::io_context io;
    auto state = std::make_shared<upload_registry>();
    server_options server_opts;
    server_opts.cut_body = [state](const recorded& head) { return state->cut(head); };
    auto server = scripted_server::start(
        io, [state](const recorded& r) { return (*state)(r); }, server_opts);
    run(io, upload_case(server, state, pattern(200'000)));
}

/// How a registry answers `POST ?digest=` with a body (distribution-spec "Pushing a blob monolithically").
enum class single_post_mode {
    accepts, ///< 201: the blob is committed
    ignores, ///< 202 with a session, the body ignored (docker-registry 2.8)
    refuses, ///< 400 UNSUPPORTED
};

struct single_post_registry {
    single_post_mode mode;
    std::map<std::string, std::string> sessions;  ///< path -> the bytes received
    std::map<std::string, std::string> committed; ///< digest -> bytes
    int opened = 0;

    reply commit(const std::string& d, const std::string& bytes) {
        if (digest_of(bytes).str() != d) return respond(400, R"({"errors":[{"code":"DIGEST_INVALID"}]})");
        committed[d] = bytes;
        return respond(201, "", {{"Docker-Content-Digest", d}});
    }

    reply operator()(const recorded& r) {
        const std::string uploads = "/v2/" + repo + "/blobs/uploads/";
        if (is_ping(r)) return ok("{}");
        if (r.method == "POST" && r.path() == uploads) {
            const auto digests = r.query("digest");
            if (!digests.empty() && !r.body.empty()) {
                if (mode == single_post_mode::accepts) return commit(digests[0], r.body);
                if (mode == single_post_mode::refuses)
                    return respond(400, R"({"errors":[{"code":"UNSUPPORTED"}]})");
            }
            const auto location = uploads + "session-" + std::to_string(++opened);
            sessions[location];
            return respond(202, "", {{"Location", location}, {"Range", "0-0"}});
        }
        auto session = sessions.find(r.path());
        if (session == sessions.end()) return respond(404, R"({"errors":[{"code":"BLOB_UPLOAD_UNKNOWN"}]})");
        if (r.method == "PUT") {
            const auto bytes = session->second + r.body;
            sessions.erase(session);
            return commit(r.query("digest").at(0), bytes);
        }
        return respond(405, "");
    }
};

/// What each request was: method, "digest" when it carried ?digest=, the path (uploads or a session), the
/// body's size.
std::vector<std::string> upload_requests(const scripted_server& server) {
    std::vector<std::string> out;
    for (const auto& r : server.requests) {
        if (is_ping(r)) continue;
        const bool to_uploads = r.path() == "/v2/" + repo + "/blobs/uploads/";
        out.push_back(fmt::format("{}{} {} {}", r.method, r.query("digest").empty() ? "" : " digest",
                                  to_uploads ? "uploads" : r.path().substr(r.path().rfind('/') + 1),
                                  r.body.size()));
    }
    return out;
}

asio::awaitable<void> single_post_case(std::shared_ptr<scripted_server> server,
                                       std::shared_ptr<single_post_registry> state,
                                       std::vector<std::string> blobs, std::vector<std::string> expected) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    const std::optional<std::string> no_mount;
    for (const auto& blob : blobs) {
        const auto desc = layer_descriptor(blob);
        const std::optional<digest> d = desc.digest;
        auto session = co_await reg.start_upload(repo, d, no_mount);
        REQUIRE_MESSAGE(session.has_value(), session.error().message);
        REQUIRE(session->has_value());
        string_reader reader(blob);
        auto sent = co_await reg.finish_upload(**session, desc, reader);
        REQUIRE_MESSAGE(sent.has_value(), sent.error().message);
        CHECK(state->committed[desc.digest.str()] == blob);
    }
    CHECK(upload_requests(*server) == expected);
}

TEST_CASE("uploads: a single POST with the body where the registry takes it, else a session, learnt once") {
    // A small blob probes; a 2 MiB one is streamed in a single POST only once the registry is known to take
    // them.
    const std::string small = pattern(1000);
    const std::string big = pattern(2 * 1024 * 1024 + 7);
    const std::string last = pattern(500) + "x";
    const auto n = [](const std::string& b) { return std::to_string(b.size()); };
    struct row {
        const char* name;
        single_post_mode mode;
        std::vector<std::string> expected;
    };
    const std::vector<row> rows{
        {"accepts: one request per blob",
         single_post_mode::accepts,
         {"POST digest uploads " + n(small), "POST digest uploads " + n(big),
          "POST digest uploads " + n(last)}},
        {"ignores (202, as docker-registry 2.8): the session it opened takes the body; later uploads open "
         "one "
         "at once",
         single_post_mode::ignores,
         {"POST digest uploads " + n(small), "PUT digest session-1 " + n(small), "POST uploads 0",
          "PUT digest session-2 " + n(big), "POST uploads 0", "PUT digest session-3 " + n(last)}},
        {"refuses (400): a session is opened for the same body; later uploads open one at once",
         single_post_mode::refuses,
         {"POST digest uploads " + n(small), "POST uploads 0", "PUT digest session-1 " + n(small),
          "POST uploads 0", "PUT digest session-2 " + n(big), "POST uploads 0",
          "PUT digest session-3 " + n(last)}},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        asio::io_context io;
        auto state = std::make_shared<single_post_registry>();
        state->mode = r.mode;
        auto server = scripted_server::start(io, [state](const recorded& req) { return (*state)(req); });
        run(io, single_post_case(server, state, {small, big, last}, r.expected));
    }
}

TEST_CASE("uploads: a blob whose bytes do not match its digest is not sent in a single POST") {
    asio::io_context io;
    auto state = std::make_shared<single_post_registry>();
    state->mode = single_post_mode::accepts;
    auto server = scripted_server::start(io, [state](const recorded& req) { return (*state)(req); });
    auto body = [](std::shared_ptr<scripted_server> server) -> asio::awaitable<void> {
        const auto executor = co_await asio::this_coro::executor;
        lh::client client(executor, test_client_options());
        remote_registry reg(client, options_for(*server));
        const std::string blob = pattern(4000);
        auto desc = layer_descriptor(blob);
        desc.digest = digest_of("something else");
        desc.size = static_cast<std::int64_t>(blob.size());
        const std::optional<digest> d = desc.digest;
        const std::optional<std::string> no_mount;
        auto session = co_await reg.start_upload(repo, d, no_mount);
        REQUIRE_MESSAGE(session.has_value(), session.error().message);
        string_reader reader(blob);
        auto sent = co_await reg.finish_upload(**session, desc, reader);
        REQUIRE(sent.has_error());
        CHECK(sent.error().code == errc::digest_mismatch);
        CHECK(upload_requests(*server).empty());
    };
    run(io, body(server));
}

// --- listings --------------------------------------------------------------------------------------------

struct page {
    std::string target;
    std::string body;
    std::string link; ///< "{host}" is replaced by the server's host:port
};

struct listing_row {
    const char* name;
    bool catalog;
    std::vector<page> pages;
    std::vector<std::string> expected;
};

asio::awaitable<void> listing_case(std::shared_ptr<scripted_server> server, listing_row row) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    result<std::vector<std::string>> listed = std::vector<std::string>{};
    if (row.catalog)
        listed = co_await reg.catalog();
    else
        listed = co_await reg.list_tags(repo);
    REQUIRE_MESSAGE(listed.has_value(), listed.error().message);
    CHECK(*listed == row.expected);
    std::vector<std::string> targets;
    for (const auto& r : server->requests)
        if (!is_ping(r)) targets.push_back(r.target);
    std::vector<std::string> expected_targets;
    for (const auto& p : row.pages)
        expected_targets.push_back(p.target);
    CHECK(targets == expected_targets);
}

TEST_CASE("list_tags and catalog follow Link pagination") {
    const std::string tags = "/v2/" + repo + "/tags/list";
    const listing_row rows[] = {
        {"one page",
         false,
         {{tags + "?n=1000", R"({"name":"library/alpine","tags":["a","b"]})", ""}},
         {"a", "b"}},
        {"three pages, relative links",
         false,
         {{tags + "?n=1000", R"({"tags":["a","b"]})", "<" + tags + "?n=2&last=b>; rel=\"next\""},
          {tags + "?n=2&last=b", R"({"tags":["c","d"]})", "<" + tags + "?n=2&last=d>; rel=\"next\""},
          {tags + "?n=2&last=d", R"({"tags":["e"]})", ""}},
         {"a", "b", "c", "d", "e"}},
        {"absolute link, then an empty last page",
         false,
         {{tags + "?n=1000", R"({"tags":["1.0"]})", "<http://{host}" + tags + "?last=1.0>; rel=\"next\""},
          {tags + "?last=1.0", R"({"tags":null})", ""}},
         {"1.0"}},
        {"catalog, two pages",
         true,
         {{"/v2/_catalog?n=1000", R"({"repositories":["a/one"]})",
           "</v2/_catalog?last=a%2Fone&n=1000>; rel=\"next\""},
          {"/v2/_catalog?last=a%2Fone&n=1000", R"({"repositories":["b/two"]})", ""}},
         {"a/one", "b/two"}},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        asio::io_context io;
        auto server = scripted_server::start(io, [row](const recorded& r) {
            if (is_ping(r)) return ok("{}");
            for (const auto& p : row.pages) {
                if (p.target != r.target) continue;
                lh::fields headers{{"Content-Type", "application/json"}};
                if (!p.link.empty()) {
                    auto link = p.link;
                    if (auto at = link.find("{host}"); at != std::string::npos)
                        link.replace(at, 6, r.header("Host"));
                    headers.emplace_back("Link", link);
                }
                return ok(p.body, headers);
            }
            return respond(404, R"({"errors":[{"code":"NAME_UNKNOWN"}]})");
        });
        run(io, listing_case(server, row));
    }
}

} // namespace

// --- referrers -------------------------------------------------------------------------------------------

namespace {

const digest referred = digest_of("the subject");
const std::string referrers_path = "/v2/" + repo + "/referrers/" + referred.str();
const std::string tag_schema_path = "/v2/" + repo + "/manifests/sha256-" + std::string(referred.encoded());
const std::string spdx = "application/spdx+json";
const std::string spdx_query = "?artifactType=application%2Fspdx%2Bjson";
const std::string cosign_sig = "application/vnd.dev.cosign.artifact.sig.v1+json";

std::string referrer_entry(std::string_view seed, std::string_view artifact_type) {
    return R"({"mediaType":")" + manifest_type + R"(","digest":")" + digest_of(seed).str() +
           R"(","size":321,"artifactType":")" + std::string(artifact_type) + R"(","annotations":{"seed":")" +
           std::string(seed) + R"("}})";
}

std::string referrers_body(const std::vector<std::string>& entries) {
    std::string out =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)";
    for (std::size_t i = 0; i < entries.size(); ++i)
        out += (i ? "," : "") + entries[i];
    return out + "]}";
}

struct scripted_answer {
    std::string target;
    int status = 200;
    std::string content_type;
    std::string body;
    std::string link;
    std::string filters_applied;
};

struct referrers_row {
    std::string name;
    std::optional<std::string> artifact_type;
    std::vector<scripted_answer> answers; ///< in the order they must be asked for; anything else is a 404
    std::vector<std::string> expected;    ///< seeds of the descriptors listed, in order
    referrers_source source;
    bool filtered_by_registry;
};

asio::awaitable<void> referrers_case(std::shared_ptr<scripted_server> server, referrers_row row) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    auto listed = co_await reg.list_referrers(repo, referred, row.artifact_type);
    REQUIRE_MESSAGE(listed.has_value(), listed.error().message);
    std::vector<std::string> seeds;
    for (const auto& d : listed->descriptors) {
        CHECK(d.size == 321);
        CHECK(d.media_type == manifest_type);
        CHECK(d.digest == digest_of(d.annotations.at("seed")));
        seeds.push_back(d.annotations.at("seed"));
    }
    CHECK(seeds == row.expected);
    CHECK(listed->source == row.source);
    CHECK(listed->filtered_by_registry == row.filtered_by_registry);
    std::vector<std::string> targets;
    for (const auto& r : server->requests)
        if (!is_ping(r)) targets.push_back(r.target);
    std::vector<std::string> expected_targets;
    for (const auto& a : row.answers)
        expected_targets.push_back(a.target);
    CHECK(targets == expected_targets);
    // The API is asked for an image index.
    for (const auto& r : server->requests)
        if (r.path() == referrers_path)
            CHECK(r.header("Accept") == "application/vnd.oci.image.index.v1+json");
}

} // namespace

TEST_CASE("list_referrers: the API with Link pages and artifactType filters, else the tag schema") {
    const std::string oci_index = "application/vnd.oci.image.index.v1+json";
    const auto sig = referrer_entry("sig", cosign_sig);
    const auto sbom = referrer_entry("sbom", spdx);
    const auto attestation = referrer_entry("attestation", "application/vnd.in-toto+json");
    const referrers_row rows[] = {
        {"the API, two pages linked by Link",
         std::nullopt,
         {{referrers_path, 200, oci_index, referrers_body({sig, sbom}),
           "<" + referrers_path + "?n=2&last=b>; rel=\"next\"", ""},
          {referrers_path + "?n=2&last=b", 200, oci_index, referrers_body({attestation}), "", ""}},
         {"sig", "sbom", "attestation"},
         referrers_source::api,
         false},
        {"the API, no referrers",
         std::nullopt,
         {{referrers_path, 200, oci_index, referrers_body({}), "", ""}},
         {},
         referrers_source::api,
         false},
        {"an artifactType filter the registry applied (OCI-Filters-Applied)",
         spdx,
         {{referrers_path + spdx_query, 200, oci_index, referrers_body({sbom}), "", "artifactType"}},
         {"sbom"},
         referrers_source::api,
         true},
        {"an artifactType filter the registry ignored: filtered here",
         spdx,
         {{referrers_path + spdx_query, 200, oci_index, referrers_body({sig, sbom, attestation}), "", ""}},
         {"sbom"},
         referrers_source::api,
         false},
        {"an OCI-Filters-Applied naming other filters only: filtered here",
         spdx,
         {{referrers_path + spdx_query, 200, oci_index, referrers_body({sig, sbom}), "",
           "annotation, other"}},
         {"sbom"},
         referrers_source::api,
         false},
        {"no API (404): the tag schema's index",
         std::nullopt,
         {{referrers_path, 404, "application/json", R"({"errors":[{"code":"NOT_FOUND"}]})", "", ""},
          {tag_schema_path, 200, oci_index, referrers_body({sig, attestation}), "", ""}},
         {"sig", "attestation"},
         referrers_source::tag_schema,
         false},
        {"no API (a 200 that is not an index): the tag schema's index, filtered here",
         spdx,
         {{referrers_path + spdx_query, 200, "text/html", "<html>welcome</html>", "", ""},
          {tag_schema_path, 200, oci_index, referrers_body({sig, sbom}), "", ""}},
         {"sbom"},
         referrers_source::tag_schema,
         false},
        {"no API and no tag schema tag: no referrers",
         std::nullopt,
         {{referrers_path, 404, "", "", "", ""},
          {tag_schema_path, 404, "application/json", R"({"errors":[{"code":"MANIFEST_UNKNOWN"}]})", "", ""}},
         {},
         referrers_source::none,
         false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        asio::io_context io;
        auto server = scripted_server::start(io, [row](const recorded& r) {
            if (is_ping(r)) return ok("{}");
            for (const auto& a : row.answers) {
                if (a.target != r.target) continue;
                lh::fields headers;
                if (!a.content_type.empty()) headers.emplace_back("Content-Type", a.content_type);
                if (!a.link.empty()) headers.emplace_back("Link", a.link);
                if (!a.filters_applied.empty())
                    headers.emplace_back("OCI-Filters-Applied", a.filters_applied);
                return respond(a.status, a.body, headers);
            }
            return respond(404, R"({"errors":[{"code":"NOT_FOUND"}]})");
        });
        run(io, referrers_case(server, row));
    }
}

asio::awaitable<void> referrers_failure_case(std::shared_ptr<scripted_server> server, errc expected,
                                             std::string words, int max_requests) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    auto listed = co_await reg.list_referrers(repo, referred, std::nullopt);
    REQUIRE(listed.has_error());
    CHECK(listed.error().code == expected);
    // Named as `registry/repository@digest`, or by the request's URL.
    CHECK_MESSAGE((contains(listed.error().message, server->host_port() + "/" + repo) ||
                   contains(listed.error().message, server->host_port() + referrers_path)),
                  listed.error().message);
    CHECK_MESSAGE(contains(listed.error().message, words), listed.error().message);
    CHECK(server->count("GET", referrers_path) <= max_requests);
    // Failures of the API itself do not fall back to the tag schema.
    CHECK(server->count("GET", tag_schema_path) == 0);
}

TEST_CASE("list_referrers: pages that link back to an earlier page are an error naming the repository") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded& r) {
        if (is_ping(r)) return ok("{}");
        const bool first = r.query("page").empty();
        lh::fields headers{{"Content-Type", "application/vnd.oci.image.index.v1+json"},
                           {"Link", "<" + referrers_path + (first ? "?page=2" : "") + ">; rel=\"next\""}};
        return ok(referrers_body({referrer_entry(first ? "a" : "b", cosign_sig)}), headers);
    });
    run(io, referrers_failure_case(server, errc::bad_response, "leads back to a page already read", 2));
}

TEST_CASE("list_referrers: a later page that is not an index, or a refusal, is an error, not a fallback") {
    {
        asio::io_context io;
        auto server = scripted_server::start(io, [](const recorded& r) {
            if (is_ping(r)) return ok("{}");
            if (r.query("page").empty())
                return ok(referrers_body({referrer_entry("a", cosign_sig)}),
                          {{"Content-Type", "application/vnd.oci.image.index.v1+json"},
                           {"Link", "<" + referrers_path + "?page=2>; rel=\"next\""}});
            return ok("<html></html>", {{"Content-Type", "text/html"}});
        });
        run(io, referrers_failure_case(server, errc::bad_response, "a later page of the referrers of", 2));
    }
    {
        asio::io_context io;
        auto server = scripted_server::start(io, [](const recorded& r) {
            if (is_ping(r)) return ok("{}");
            return respond(403, R"({"errors":[{"code":"DENIED","message":"no pull access"}]})");
        });
        run(io, referrers_failure_case(server, errc::denied, "no pull access", 1));
    }
}

asio::awaitable<void> api_absent_case(std::shared_ptr<scripted_server> server, bool remembered) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    const std::vector<digest> subjects{referred, digest_of("second"), digest_of("third")};
    // All at once, as a sync lists them: the first listing finds out about the API, the others wait for it.
    std::function<asio::awaitable<void>(std::size_t)> list_one = [&](std::size_t i) -> asio::awaitable<void> {
        const auto& d = subjects[i];
        auto listed = co_await reg.list_referrers(repo, d, std::nullopt);
        REQUIRE_MESSAGE(listed.has_value(), listed.error().message);
        CHECK(listed->source == (d == referred ? referrers_source::tag_schema : referrers_source::none));
    };
    co_await libregistry::detail::for_each_bounded(subjects.size(), subjects.size(), list_one);
    int api = 0, tags = 0;
    for (const auto& r : server->requests) {
        if (r.path().find("/referrers/") != std::string::npos) ++api;
        if (r.path().find("/manifests/sha256-") != std::string::npos) ++tags;
    }
    // Each subject's tag schema tag is read once; the API is asked once in all when its 404 meant "no API".
    CHECK(tags == 3);
    CHECK(api == (remembered ? 1 : 3));
}

TEST_CASE("list_referrers: after the API's first 404 the registry's tag schema is read at once") {
    for (const bool name_unknown : {false, true}) {
        CAPTURE(name_unknown);
        asio::io_context io;
        auto server = scripted_server::start(io, [name_unknown](const recorded& r) {
            if (is_ping(r)) return ok("{}");
            if (r.path() == tag_schema_path)
                return ok(referrers_body({referrer_entry("sig", cosign_sig)}),
                          {{"Content-Type", "application/vnd.oci.image.index.v1+json"}});
            if (r.path().find("/referrers/") != std::string::npos && name_unknown)
                return respond(404, R"({"errors":[{"code":"NAME_UNKNOWN"}]})");
            return respond(404, R"({"errors":[{"code":"MANIFEST_UNKNOWN"}]})");
        });
        // NAME_UNKNOWN says the repository is missing, not the API: every listing asks the API again.
        run(io, api_absent_case(server, !name_unknown));
    }
}

asio::awaitable<void> oci_subject_case(std::shared_ptr<scripted_server> server, std::string tag,
                                       std::optional<digest> expected) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    auto m = parse_manifest(image_manifest(tag), manifest_type);
    REQUIRE(m.has_value());
    auto pushed = co_await reg.put_manifest(repo, tag, *m);
    REQUIRE_MESSAGE(pushed.has_value(), pushed.error().message);
    CHECK(pushed->digest == m->digest);
    CHECK(pushed->subject == expected);
    CHECK(server->count("PUT", "/v2/" + repo + "/manifests/" + tag) == 1);
}

TEST_CASE("put_manifest: OCI-Subject says the registry indexed the subject; absent or not a digest: not") {
    struct row {
        std::string tag;
        std::string header; ///< empty: none sent
        std::optional<digest> expected;
    };
    const std::vector<row> rows{
        {"with-subject", referred.str(), referred},
        {"without", "", std::nullopt},
        {"not-a-digest", "sha256:nothex", std::nullopt},
    };
    for (const auto& r : rows) {
        CAPTURE(r.tag);
        asio::io_context io;
        auto server = scripted_server::start(io, [r](const recorded& req) {
            if (is_ping(req)) return ok("{}");
            lh::fields headers;
            if (!r.header.empty()) headers.emplace_back("OCI-Subject", r.header);
            return respond(201, "", headers);
        });
        run(io, oci_subject_case(server, r.tag, r.expected));
    }
}

// --- names in URLs ---------------------------------------------------------------------------------------

asio::awaitable<void> bad_names_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    struct row {
        std::string repository;
        std::string ref;
    };
    const std::vector<row> rows{
        {repo, "../../pwned/manifests/v1"}, {repo, "v1\nGET /x"},
        {repo, std::string(129, 'a')},      {"../other", "latest"},
        {"Upper/case", "latest"},           {"a//b", "latest"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.repository);
        CAPTURE(r.ref);
        auto m = co_await reg.get_manifest(r.repository, r.ref);
        REQUIRE(m.has_error());
        CHECK(m.error().code == errc::invalid_reference);
        CHECK(contains(m.error().message, "not sending a request to " + server->host_port()));
        CHECK_FALSE(contains(m.error().message, "\n"));
        manifest empty; // named: g++ 12 mishandles a braced temporary inside co_await
        auto put = co_await reg.put_manifest(r.repository, r.ref, empty);
        CHECK(put.has_error());
    }
    auto tags = co_await reg.list_tags("../../v2/_catalog");
    REQUIRE(tags.has_error());
    CHECK(tags.error().code == errc::invalid_reference);
    const auto blob = digest_of("x");
    const std::string outside = "../secret";
    auto mount = co_await reg.start_upload(repo, blob, outside);
    REQUIRE(mount.has_error());
    CHECK(mount.error().code == errc::invalid_reference);
    // Nothing but, at most, the version check reached the registry.
    for (const auto& req : server->requests)
        CHECK(is_ping(req));
}

// Regression (issue 10): a tag a registry listed, `../../pwned/manifests/v1`, was put into a destination URL.
TEST_CASE("names that are not a repository, tag or digest are refused before a request is sent") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded&) { return respond(404, ""); });
    run(io, bad_names_case(server));
}

// --- bounded listings ------------------------------------------------------------------------------------

asio::awaitable<void> paging_case(std::shared_ptr<scripted_server> server, errc expected, std::string words,
                                  int max_requests) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    auto tags = co_await reg.list_tags(repo);
    REQUIRE(tags.has_error());
    CHECK(tags.error().code == expected);
    CHECK_MESSAGE(contains(tags.error().message, "the tag list of " + server->host_port() + "/" + repo),
                  tags.error().message);
    CHECK_MESSAGE(contains(tags.error().message, words), tags.error().message);
    CHECK(server->count("GET", "/v2/" + repo + "/tags/list") <= max_requests);
}

// Regression (issue 10): two pages linking to each other were fetched for as long as the run lasted.
TEST_CASE("a tag list whose pages link back to an earlier page is an error, not an endless listing") {
    asio::io_context io;
    const std::string tags = "/v2/" + repo + "/tags/list";
    auto server = scripted_server::start(io, [tags](const recorded& r) {
        if (is_ping(r)) return ok("{}");
        const bool first = r.query("page").empty();
        lh::fields headers{{"Link", "<" + tags + (first ? "?page=2" : "?n=1000") + ">; rel=\"next\""}};
        return ok(first ? R"({"tags":["a"]})" : R"({"tags":["b"]})", headers);
    });
    run(io, paging_case(server, errc::bad_response, "leads back to a page already read", 2));
}

// Regression (issue 10): pages that always linked to a new one grew memory without bound.
TEST_CASE("a tag list is capped in entries and bytes, with an error naming the repository") {
    asio::io_context io;
    const std::string tags = "/v2/" + repo + "/tags/list";
    std::string page_body = R"({"tags":[)";
    for (int i = 0; i < 25000; ++i)
        page_body += (i ? ",\"" : "\"") + std::string(36, 'a') + std::to_string(i) + "\"";
    page_body += "]}";
    auto server = scripted_server::start(io, [tags, page_body, n = 0](const recorded& r) mutable {
        if (is_ping(r)) return ok("{}");
        lh::fields headers{{"Link", "<" + tags + "?page=" + std::to_string(++n) + ">; rel=\"next\""}};
        return ok(page_body, headers);
    });
    // 25,000 entries (about 1 MiB) a page: the 1,000,000-entry cap ends it on the 41st page.
    run(io, paging_case(server, errc::too_large, "has more than 1000000 entries", 41));
}

// --- rate limits (issue 10: one 429 with `RateLimit-Remaining: 0` failed every later pull of the run) -----

namespace {

/// One request as the rate-limit tests' server saw it, and when.
struct timed_request {
    std::string method;
    std::string path;
    int status;
    std::chrono::steady_clock::time_point at;
};
using request_log = std::shared_ptr<std::vector<timed_request>>;

reply too_many_requests(const lh::fields& headers) {
    return respond(429, R"({"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]})", headers);
}

/// Returns once `reg` has retried a request, so once it has read the answer that made it retry; the test does
/// not depend on how fast the machine is.
asio::awaitable<void> until_retried(remote_registry* reg) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (reg->stats().retries == 0) {
        timer.expires_after(5ms);
        co_await timer.async_wait(asio::use_awaitable);
    }
}

/// GETs of the manifests tag0..tag{n-1} at once, once `reg` retried a request.
asio::awaitable<void> get_after_a_retry(remote_registry* reg, int n, int* succeeded) {
    co_await until_retried(reg);
    co_await get_concurrently(reg, n, succeeded);
}

struct throttle_row {
    const char* name;
    lh::fields headers;
    bool wait_known;
};

asio::awaitable<void> shared_pause_case(std::shared_ptr<scripted_server> server, request_log log,
                                        throttle_row row) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    // What the sync runner's adaptive limits hear (registry::on_throttle).
    std::uint64_t throttles = 0;
    reg.on_throttle([&throttles] { ++throttles; });
    // The GET of `first` is answered 429; five more GETs start once the client has read that answer.
    int succeeded = 0;
    std::vector<asio::awaitable<void>> tasks;
    tasks.push_back(get_one(&reg, "first", &succeeded));
    tasks.push_back(get_after_a_retry(&reg, 5, &succeeded));
    co_await run_concurrently(std::move(tasks));
    CHECK(succeeded == 6);

    REQUIRE(log->size() == 7); // the 429, the GET of `first` again, and the five: each sent once
    CHECK(std::count_if(log->begin(), log->end(), [](const timed_request& r) { return r.status == 429; }) ==
          1);
    CHECK(log->front().status == 429);
    if (row.wait_known) {
        // `Retry-After: 1`: nothing went out for a second (the client read the 429 after the server sent it,
        // and waits a second from then), and then each request once.
        const auto throttled = log->front().at;
        for (auto r = log->begin() + 1; r != log->end(); ++r)
            CHECK(r->at - throttled >= 1s);
        CHECK(reg.stats().rate_limit_waits >= 5);
        CHECK(throttles == 1 + reg.stats().rate_limit_waits); // the 429, and every wait for its Retry-After
    } else {
        // Docker Hub's headers say neither when nor how long: the 429 was retried with backoff, and the
        // other requests were not held back.
        CHECK(reg.stats().rate_limit_waits == 0);
        CHECK(throttles == 1); // the 429
    }
}

} // namespace

TEST_CASE("rate limits: a 429 with a known wait pauses the whole registry once; every request succeeds") {
    const throttle_row rows[] = {
        {"IETF fields with Retry-After",
         {{"Retry-After", "1"}, {"RateLimit-Limit", "100;w=21600"}, {"RateLimit-Remaining", "0"}},
         true},
        {"Docker Hub's fields",
         {{"ratelimit-limit", "100;w=21600"}, {"ratelimit-remaining", "0;w=21600"}},
         false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        asio::io_context io;
        auto log = std::make_shared<std::vector<timed_request>>();
        auto server = scripted_server::start(io, [row, log, throttled = false](const recorded& r) mutable {
            if (is_ping(r)) return ok("{}");
            const bool throttle = !throttled && r.path() == "/v2/" + repo + "/manifests/first";
            throttled = throttled || throttle;
            log->push_back({r.method, r.path(), throttle ? 429 : 200, std::chrono::steady_clock::now()});
            return throttle ? too_many_requests(row.headers) : manifest_reply(image_manifest("fine"));
        });
        run(io, shared_pause_case(server, log, row));
    }
}

namespace {

asio::awaitable<void> quota_beyond_wait_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server)); // max_wait: the default 5 minutes
    const auto expected = "pull limit of " + server->host_port() + " used up; it resets in 5h 12m (at ";

    auto first = co_await reg.get_manifest(repo, "a");
    REQUIRE(first.has_error());
    CAPTURE(first.error().message);
    CHECK(first.error().code == errc::too_many_requests);
    CHECK(contains(first.error().message,
                   "GET http://" + server->host_port() + "/v2/" + repo + "/manifests/a"));
    CHECK(contains(first.error().message, expected));
    CHECK(contains(first.error().message, "Z), later than the maximum wait of 5m"));
    // Not retried, at no level: the attempts are spent.
    CHECK(server->count("GET", "/v2/" + repo + "/manifests/a") == 1);
    CHECK(first.error().attempts == options_for(*server).retry.max_attempts);

    // Later pulls are refused without being sent, saying the same.
    auto second = co_await reg.get_manifest(repo, "b");
    REQUIRE(second.has_error());
    CHECK(contains(second.error().message, expected));
    CHECK(server->requests.size() == 2); // the ping and the one GET
    // A HEAD is not a pull, so it goes out; refused for the quota too, it holds back every request.
    auto head = co_await reg.head_manifest(repo, "b");
    REQUIRE(head.has_error());
    CHECK(contains(head.error().message, expected));
    auto again = co_await reg.head_manifest(repo, "c");
    REQUIRE(again.has_error());
    CHECK(contains(again.error().message, expected));
    CHECK(server->requests.size() == 3);
}

} // namespace

TEST_CASE(
    "rate limits: a quota that resets later than the maximum wait fails at once, saying when it resets") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded& r) {
        if (is_ping(r)) return ok("{}");
        return too_many_requests(
            {{"RateLimit-Limit", "100;w=21600"}, {"RateLimit-Remaining", "0"}, {"RateLimit-Reset", "18720"}});
    });
    run(io, quota_beyond_wait_case(server));
}

namespace {

asio::awaitable<void> quota_expiry_case(std::shared_ptr<scripted_server> server, request_log log) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    auto first = co_await reg.get_manifest(repo, "a");
    REQUIRE_MESSAGE(first.has_value(), first.error().message);
    // The last pull of the quota: a HEAD (not counted) still goes out at once, the next pull when it resets.
    auto head = co_await reg.head_manifest(repo, "a");
    REQUIRE_MESSAGE(head.has_value(), head.error().message);
    CHECK(reg.stats().rate_limit_waits == 0);
    auto second = co_await reg.get_manifest(repo, "b");
    REQUIRE_MESSAGE(second.has_value(), second.error().message);
    CHECK(reg.stats().rate_limit_waits == 1);

    REQUIRE(log->size() == 3);
    CHECK(log->at(1).method == "HEAD");
    CHECK(log->at(2).at - log->at(0).at >= 1s);
}

} // namespace

TEST_CASE("rate limits: a remembered RateLimit-Remaining 0 ends when its reset time passes") {
    asio::io_context io;
    auto log = std::make_shared<std::vector<timed_request>>();
    const auto body = image_manifest("last");
    auto server = scripted_server::start(io, [log, body](const recorded& r) {
        if (is_ping(r)) return ok("{}");
        const bool first = log->empty();
        log->push_back({r.method, r.path(), 200, std::chrono::steady_clock::now()});
        if (r.method == "HEAD")
            return respond(200, "",
                           {{"Content-Type", manifest_type},
                            {"Content-Length", std::to_string(body.size())},
                            {"Docker-Content-Digest", digest_of(body).str()}});
        if (first) return manifest_reply(body, {{"RateLimit-Remaining", "0"}, {"RateLimit-Reset", "1"}});
        return manifest_reply(body, {{"RateLimit-Remaining", "99"}});
    });
    run(io, quota_expiry_case(server, log));
}

namespace {

/// Calls abort() on `client` once a request of `reg` waits for the registry's pause, as a run winding down
/// after SIGINT does.
asio::awaitable<void> abort_when_waiting(lh::client* client, remote_registry* reg) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (reg->stats().rate_limit_waits == 0) {
        timer.expires_after(5ms);
        co_await timer.async_wait(asio::use_awaitable);
    }
    timer.expires_after(50ms);
    co_await timer.async_wait(asio::use_awaitable);
    client->abort(1s);
}

asio::awaitable<void> aborted_pause_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    int succeeded = 0;
    const auto started = std::chrono::steady_clock::now();
    std::vector<asio::awaitable<void>> tasks;
    tasks.push_back(get_one(&reg, "first", &succeeded));     // in the retry's pause
    tasks.push_back(get_after_a_retry(&reg, 1, &succeeded)); // in the registry's pause
    tasks.push_back(abort_when_waiting(&client, &reg));
    co_await run_concurrently(std::move(tasks));
    // Not the minute the registry asked for: the pauses ended with abort(), and the requests went out.
    CHECK(std::chrono::steady_clock::now() - started < 5s);
    CHECK(reg.stats().rate_limit_waits >= 1);
}

} // namespace

TEST_CASE("rate limits: abort() ends the registry's pause at once, as SIGINT needs") {
    asio::io_context io;
    auto server = scripted_server::start(io, [throttled = false](const recorded& r) mutable {
        if (is_ping(r)) return ok("{}");
        if (!throttled) {
            throttled = true;
            return too_many_requests({{"Retry-After", "60"}});
        }
        return manifest_reply(image_manifest("fine"));
    });
    run(io, aborted_pause_case(server));
}

// --- deletes ---------------------------------------------------------------------------------------------

namespace {

struct delete_row {
    const char* name;
    bool by_tag;
    int status;
    std::string body;
    std::optional<bool> deleted; ///< the value, or nullopt for an error
    errc code = errc::unsupported;
    std::string message_part;
};

asio::awaitable<void> delete_case(std::shared_ptr<scripted_server> server, delete_row row) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    remote_registry reg(client, options_for(*server));
    result<bool> r = false;
    if (row.by_tag)
        r = co_await reg.delete_tag(repo, "old");
    else
        r = co_await reg.delete_manifest(repo, digest_of("x"));
    if (row.deleted) {
        REQUIRE_MESSAGE(r.has_value(), r.error().message);
        CHECK(*r == *row.deleted);
    } else {
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == row.code);
        CHECK_MESSAGE(contains(r.error().message, row.message_part), r.error().message);
    }
    CHECK(server->count("DELETE", row.by_tag ? "/v2/" + repo + "/manifests/old"
                                             : "/v2/" + repo + "/manifests/" + digest_of("x").str()) == 1);
}

} // namespace

TEST_CASE("delete_tag and delete_manifest: 202 deleted, 404 gone already, refusals mapped to unsupported") {
    const std::string unsupported =
        R"({"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]})";
    const delete_row rows[] = {
        {"tag, 202", true, 202, "", true, errc::unsupported, ""},
        {"tag, 404", true, 404, R"({"errors":[{"code":"MANIFEST_UNKNOWN"}]})", false, errc::unsupported, ""},
        {"tag, docker-registry 2.8's 400 DIGEST_INVALID", true, 400,
         R"({"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]})",
         std::nullopt, errc::unsupported, "does not delete a tag by itself"},
        {"tag, 405 UNSUPPORTED", true, 405, unsupported, std::nullopt, errc::unsupported,
         "does not delete a tag by itself"},
        {"digest, 202", false, 202, "", true, errc::unsupported, ""},
        {"digest, 404", false, 404, R"({"errors":[{"code":"MANIFEST_UNKNOWN"}]})", false, errc::unsupported,
         ""},
        {"digest, 405 UNSUPPORTED", false, 405, unsupported, std::nullopt, errc::unsupported,
         "set `storage: delete: enabled: true`"},
        {"digest, 403 DENIED stays denied", false, 403, R"({"errors":[{"code":"DENIED","message":"no"}]})",
         std::nullopt, errc::denied, "403"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        asio::io_context io;
        auto server = scripted_server::start(io, [row](const recorded& r) {
            if (is_ping(r)) return ok("{}");
            if (r.method == "DELETE")
                return respond(row.status, row.body, {{"Content-Type", "application/json"}});
            return respond(500);
        });
        run(io, delete_case(server, row));
    }
}
