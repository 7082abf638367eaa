// remote_registry against a scripted registry on 127.0.0.1 (tests/support/scripted_server.hpp), through the
// public API only: what the server saw (paths, headers, counts), the stats, and the results and errors the
// caller gets. Loopback registries may speak plain HTTP, so the client pings HTTPS first and falls back.
#include "libregistry/client/remote_registry.hpp"

#include "scripted_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
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
    REQUIRE_FALSE(exchanges->empty());
    CHECK(exchanges->front().starts_with(https + "v2/ "));
    const auto plain = std::count_if(exchanges->begin(), exchanges->end(),
                                     [&](const std::string& e) { return e.starts_with(http); });
    if (row.tls) {
        CHECK(plain == 0);
        CHECK(server->not_http == 0);
    } else {
        // HTTPS was tried once (the plain server got a ClientHello it could not parse), then never again.
        CHECK(contains(exchanges->front(), "< failed"));
        CHECK(server->not_http == 1);
        CHECK(plain == static_cast<long>(exchanges->size()) - 1);
    }
}

TEST_CASE("ping: one GET /v2/ for concurrent requests, and the scheme that answered it is kept") {
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

// Bug: when HTTPS fails and plain HTTP answers /v2/ with 404, remote_registry reports the HTTPS connection
// failure ("the HTTPS error is the one that explains more") and drops the 404, so the user reads about TLS
// instead of learning that the host is not a registry.
TEST_CASE("ping: a plain-HTTP loopback server whose /v2/ is 404 gives an error naming the registry" *
          doctest::may_fail()) {
    asio::io_context io;
    auto server = scripted_server::start(io, not_a_registry);
    run(io, not_a_registry_case(server, false));
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

// Bug: re-authentication invalidates whatever the cache holds for the scope, even a token fetched after the
// request that got the 401 was sent. Parallel transfers whose 401s come back at different times each throw
// away the token the previous one just fetched: one token request per transfer instead of one in all.
TEST_CASE("Bearer: a 401 for an old token reuses a fresh token fetched meanwhile" * doctest::may_fail()) {
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

} // namespace
