// The transport against scripted in-process servers on 127.0.0.1 (tests/support/scripted_server.hpp): each
// test case runs one io_context with a server and a client coroutine.
#include "libregistry/core/redact.hpp"
#include "libregistry/http/client.hpp"

#include "scripted_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace lh = libregistry::http;
using libregistry::errc;
using tcp = boost::asio::ip::tcp;
using namespace std::chrono_literals;
using namespace libregistry::testing;

const auto use_tuple = asio::as_tuple(asio::use_awaitable);

lh::request get(std::string url) {
    lh::request req;
    req.url = std::move(url);
    return req;
}

class chunks_source final : public lh::body_source {
public:
    explicit chunks_source(std::vector<std::string> chunks) : chunks_(std::move(chunks)) {}

    asio::awaitable<libregistry::result<std::span<const std::byte>>> next() override {
        if (index_ == chunks_.size()) co_return std::span<const std::byte>();
        const std::string& chunk = chunks_[index_++];
        co_return std::as_bytes(std::span<const char>(chunk));
    }

private:
    std::vector<std::string> chunks_;
    std::size_t index_ = 0;
};

// ---------------------------------------------------------------------------------------------------------

// "quick" at once for the ping, "slow" after 100 ms for anything else: requests sent together overlap.
reply quick_ping_else_slow(const recorded& request) {
    if (request.target == "/v2/") return ok("quick");
    return reply{response_text(200, "slow"), false, 100ms};
}

asio::awaitable<void> keep_alive_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    for (const char* path : {"/v2/", "/v2/library/alpine/manifests/latest"}) {
        auto req = get(server->url(path));
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_value());
        CHECK(res->status == 200);
        CHECK(res->body == "hello");
        CHECK(res->url == server->url(path));
        CHECK(res->header("x-answer") == "42");
    }
    CHECK(client.stats().connections_opened == 1);
    CHECK(client.stats().requests == 2);
    CHECK(client.stats().tls_handshakes == 0);
    REQUIRE(server->requests.size() == 2);
    CHECK(server->connections == 1);
    const auto& first = server->requests[0];
    CHECK(first.method == "GET");
    CHECK(first.target == "/v2/");
    CHECK(first.header("Host") == "127.0.0.1:" + std::to_string(server->port()));
    CHECK(first.header("User-Agent") == "syncer-test/1");
    CHECK(first.header("Content-Length").empty());
}

TEST_CASE("keep-alive: two requests share one connection") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded&) {
        return ok("hello", {{"X-Answer", "42"}});
    });
    run(io, keep_alive_case(server));
}

asio::awaitable<void> connection_close_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    for (int i = 0; i < 2; ++i) {
        auto req = get(server->url("/v2/"));
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_value());
        CHECK(res->body == "bye");
    }
    CHECK(client.stats().connections_opened == 2);
}

TEST_CASE("keep-alive: a connection the server closes is not reused") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded&) {
        return reply{response_text(200, "bye", {{"Connection", "close"}}), true};
    });
    run(io, connection_close_case(server));
    CHECK(server->connections == 2);
}

asio::awaitable<void> stale_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    auto first = get(server->url("/v2/"));
    auto res = co_await client.send(std::move(first));
    REQUIRE(res.has_value());
    // Let the server's FIN arrive, so the pooled connection is stale when reused.
    asio::steady_timer pause(executor, 50ms);
    co_await pause.async_wait(use_tuple);
    auto second = get(server->url("/v2/"));
    res = co_await client.send(std::move(second));
    REQUIRE_MESSAGE(res.has_value(), res.error().message);
    CHECK(res->body == "once");
    CHECK(client.stats().connections_opened == 2);
}

TEST_CASE("keep-alive: a pooled connection closed while idle is replaced transparently") {
    asio::io_context io;
    // Closes after answering without saying so, like a server whose keep-alive timer ran out.
    auto server = scripted_server::start(io, [](const recorded&) {
        return reply{response_text(200, "once"), true};
    });
    run(io, stale_case(server));
    CHECK(server->requests.size() == 2);
}

asio::awaitable<void> stale_upload_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    auto first = get(server->url("/v2/"));
    auto res = co_await client.send(std::move(first));
    REQUIRE(res.has_value());
    asio::steady_timer pause(executor, 50ms);
    co_await pause.async_wait(use_tuple);
    // A streamed body cannot be sent twice: written on the stale connection, the upload would fail.
    chunks_source source({"layer-", "bytes"});
    lh::request put;
    put.method = bhttp::verb::put;
    put.url = server->url("/v2/repo/blobs/uploads/1?digest=sha256:abc");
    put.source = &source;
    put.content_length = 11;
    res = co_await client.send(std::move(put));
    REQUIRE_MESSAGE(res.has_value(), res.error().message);
    CHECK(res->status == 201);
    CHECK(client.stats().connections_opened == 2);
    CHECK(client.stats().requests == 2);
}

TEST_CASE(
    "keep-alive: a streamed upload never goes out on a pooled connection the server closed while idle") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded& request) {
        return reply{response_text(request.method == "PUT" ? 201 : 200, "once"), true};
    });
    run(io, stale_upload_case(server));
    REQUIRE(server->requests.size() == 2);
    CHECK(server->requests[1].method == "PUT");
    CHECK(server->requests[1].body == "layer-bytes");
    CHECK(server->connections == 2);
}

asio::awaitable<void> burst(lh::client& client, std::shared_ptr<scripted_server> server, int requests) {
    std::vector<asio::awaitable<void>> tasks;
    for (int i = 0; i < requests; ++i) {
        std::string path = "/v2/repo/manifests/";
        path += std::to_string(i);
        tasks.push_back([](lh::client& c, std::string url) -> asio::awaitable<void> {
            auto req = get(std::move(url));
            auto res = co_await c.send(std::move(req));
            REQUIRE_MESSAGE(res.has_value(), res.error().message);
            CHECK(res->body == "slow");
        }(client, server->url(path)));
    }
    co_await run_concurrently(std::move(tasks));
}

asio::awaitable<void> bounded_connections_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    for (int i = 0; i < 5; ++i) {
        auto req = get(server->url("/v2/"));
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_value());
    }
    CHECK(client.stats().connections_opened == 1);
    // 40 at once (more than the 32 idle connections a host used to keep): the idle one and 39 new.
    co_await burst(client, server, 40);
    CHECK(client.stats().connections_opened == 40);
    // The next burst finds all 40 idle: a run opens no more connections than it had requests in flight.
    co_await burst(client, server, 40);
    CHECK(client.stats().connections_opened == 40);
    const auto counted = client.stats(server->host_port());
    CHECK(counted.connections_opened == 40);
    CHECK(counted.requests == 85);
    CHECK(client.stats().requests == 85);
}

TEST_CASE(
    "keep-alive: sequential requests share one connection, K concurrent ones open K, kept for the next K") {
    asio::io_context io;
    auto server = scripted_server::start(io, quick_ping_else_slow);
    run(io, bounded_connections_case(server));
    CHECK(server->connections == 40);
    CHECK(server->requests.size() == 85);
}

asio::awaitable<void> upload_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    const std::vector<std::string> body_chunks{"head-", pattern(200 * 1024), "-tail"};
    std::string expected;
    for (const auto& chunk : body_chunks)
        expected += chunk;

    {
        chunks_source source(body_chunks);
        lh::request req;
        req.method = bhttp::verb::put;
        req.url = server->url("/v2/repo/blobs/uploads/1?digest=sha256:abc");
        req.source = &source;
        req.content_length = static_cast<std::int64_t>(expected.size());
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_value());
        CHECK(res->status == 201);
        const auto& seen = server->requests.back();
        CHECK(seen.method == "PUT");
        CHECK(seen.target == "/v2/repo/blobs/uploads/1?digest=sha256:abc");
        CHECK(seen.header("Content-Length") == std::to_string(expected.size()));
        CHECK(seen.header("Transfer-Encoding").empty());
        CHECK(seen.body == expected);
    }
    {
        chunks_source source(body_chunks);
        lh::request req;
        req.method = bhttp::verb::patch;
        req.url = server->url("/v2/repo/blobs/uploads/2");
        req.source = &source;
        req.content_length = -1;
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_value());
        const auto& seen = server->requests.back();
        CHECK(seen.header("Transfer-Encoding") == "chunked");
        CHECK(seen.header("Content-Length").empty());
        CHECK(seen.body == expected);
    }
    {
        lh::request req;
        req.method = bhttp::verb::post;
        req.url = server->url("/v2/repo/blobs/uploads/");
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_value());
        CHECK(server->requests.back().header("Content-Length") == "0");
    }
    {
        lh::request req;
        req.method = bhttp::verb::put;
        req.url = server->url("/v2/repo/manifests/latest");
        req.headers = {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}};
        req.body = pattern(150 * 1024);
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_value());
        CHECK(server->requests.back().body == pattern(150 * 1024));
        CHECK(server->requests.back().header("Content-Type") == "application/vnd.oci.image.manifest.v1+json");
    }
    CHECK(client.stats().connections_opened == 1);
    {
        chunks_source source({"short"});
        lh::request req;
        req.method = bhttp::verb::put;
        req.url = server->url("/v2/repo/blobs/uploads/3");
        req.source = &source;
        req.content_length = 100;
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_error());
        CHECK(res.error().code == errc::invalid_argument);
        CHECK(res.error().message.find("5 bytes, not the 100 declared") != std::string::npos);
    }
}

TEST_CASE("upload: a body_source is streamed with Content-Length or chunked") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded&) { return reply{response_text(201, "")}; });
    run(io, upload_case(server));
}

asio::awaitable<void> download_case(std::shared_ptr<scripted_server> server, std::string expected) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    for (const char* path : {"/sized", "/chunked"}) {
        CAPTURE(path);
        auto req = get(server->url(path));
        auto opened = co_await client.open(std::move(req));
        REQUIRE(opened.has_value());
        auto& stream = **opened;
        CHECK(stream.status() == 200);
        CHECK(stream.content_length() ==
              (std::string_view(path) == "/sized" ? static_cast<std::int64_t>(expected.size()) : -1));
        std::string received;
        std::array<std::byte, 4000> buffer;
        std::size_t reads = 0;
        for (;;) {
            const std::span<std::byte> window(buffer);
            auto n = co_await stream.read_some(window);
            REQUIRE(n.has_value());
            if (*n == 0) break;
            received.append(reinterpret_cast<const char*>(buffer.data()), *n);
            ++reads;
        }
        CHECK(received.size() == expected.size());
        CHECK(received == expected);
        CHECK(reads >= expected.size() / buffer.size());
    }
    // Both bodies were read to the end, so the connection went back to the pool each time.
    CHECK(client.stats().connections_opened == 1);
}

TEST_CASE("open: a large body is streamed in small reads, sized and chunked") {
    asio::io_context io;
    const std::string body = pattern(8 * 1024 * 1024);
    auto server = scripted_server::start(io, [&body](const recorded& request) {
        if (request.target == "/chunked") return reply{chunked_text(body, 100'000)};
        return ok(body);
    });
    run(io, download_case(server, body));
}

asio::awaitable<void> redirect_case(std::shared_ptr<scripted_server> origin,
                                    std::shared_ptr<scripted_server> storage) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    {
        auto req = get(origin->url("/v2/repo/blobs/sha256:1"));
        req.headers = {{"Authorization", "Bearer secret"}, {"Accept", "*/*"}};
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_value());
        CHECK(res->status == 200);
        CHECK(res->body == "blob");
        CHECK(res->url == storage->url("/storage/1?sig=x"));
        REQUIRE(storage->requests.size() == 1);
        CHECK(storage->requests[0].target == "/storage/1?sig=x");
        CHECK(storage->requests[0].header("Authorization").empty());
        CHECK(storage->requests[0].header("Accept") == "*/*");
    }
    {
        auto req = get(origin->url("/v2/same"));
        req.headers = {{"Authorization", "Bearer secret"}};
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_value());
        CHECK(res->body == "final");
        CHECK(res->url == origin->url("/v2/final"));
        CHECK(origin->requests.back().target == "/v2/final");
        CHECK(origin->requests.back().header("Authorization") == "Bearer secret");
    }
    {
        auto req = get(origin->url("/v2/same"));
        req.follow_redirects = false;
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_value());
        CHECK(res->status == 307);
        CHECK(res->header("Location") == "final");
    }
    {
        lh::request req;
        req.method = bhttp::verb::put;
        req.url = origin->url("/v2/same");
        // Not `= "x"`: g++ 12 sees a false -Wrestrict in that assignment inside this coroutine.
        req.body.push_back('x');
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_value());
        CHECK(res->status == 307);
    }
    // The redirect bodies were drained, so the origin connection was reused throughout.
    CHECK(origin->connections == 1);
}

TEST_CASE("redirects: Authorization is kept on the same origin and dropped on another") {
    asio::io_context io;
    auto storage = scripted_server::start(io, [](const recorded&) { return ok("blob"); });
    auto origin = scripted_server::start(io, [&storage](const recorded& request) {
        if (request.target == "/v2/repo/blobs/sha256:1")
            return redirect(302, storage->url("/storage/1?sig=x#frag"));
        if (request.target == "/v2/same") return redirect(307, "final");
        return ok("final");
    });
    run(io, redirect_case(origin, storage));
}

asio::awaitable<void> debug_case(std::shared_ptr<scripted_server> server, std::string* described) {
    const auto executor = co_await asio::this_coro::executor;
    auto options = test_client_options();
    options.debug = [described](std::string_view text) { described->append(text).append("\n"); };
    lh::client client(executor, options);
    auto req = get(server->url("/v2/repo/manifests/latest"));
    req.headers.emplace_back("Authorization", "Basic ZGVidWctdXNlcjpEZWJ1Zy1TM2NyZXQtUFc=");
    req.headers.emplace_back("X-Request-Secret", "opaque-request-value");
    auto res = co_await client.send(std::move(req));
    REQUIRE(res.has_value());
    CHECK(res->status == 401);
}

// Issue 10: a registry (or proxy) that echoes the request's credentials in a header of its own and in its
// reason phrase. --debug shows only the headers it knows to be harmless, and scrubs the known secrets.
TEST_CASE("debug: unknown header values are REDACTED and known secrets scrubbed") {
    libregistry::known_secrets().add_basic("debug-user", "Debug-S3cret-PW");
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded& request) {
        return reply{"HTTP/1.1 401 denied for debug-user:Debug-S3cret-PW\r\n"
                     "X-Echo: " +
                     request.header("Authorization") +
                     "\r\n"
                     "Docker-Content-Digest: sha256:0123\r\n"
                     "WWW-Authenticate: Basic realm=\"r\"\r\n"
                     "Content-Length: 0\r\n\r\n"};
    });
    std::string described;
    run(io, debug_case(server, &described));
    CAPTURE(described);
    CHECK(described.find("GET ") != std::string::npos);
    CHECK(described.find("Authorization: REDACTED") != std::string::npos);
    CHECK(described.find("X-Request-Secret: REDACTED") != std::string::npos);
    CHECK(described.find("X-Echo: REDACTED") != std::string::npos);
    CHECK(described.find("Docker-Content-Digest: sha256:0123") != std::string::npos);
    CHECK(described.find("WWW-Authenticate: Basic realm=\"r\"") != std::string::npos);
    CHECK(described.find("< 401 denied for REDACTED") != std::string::npos);
    for (const char* secret :
         {"ZGVidWctdXNlcjpEZWJ1Zy1TM2NyZXQtUFc", "Debug-S3cret-PW", "opaque-request-value"})
        CHECK(described.find(secret) == std::string::npos);
}

asio::awaitable<void> redirect_loop_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    auto options = test_client_options();
    options.max_redirects = 3;
    lh::client client(executor, options);
    auto req = get(server->url("/loop"));
    auto res = co_await client.send(std::move(req));
    REQUIRE(res.has_error());
    CHECK(res.error().code == errc::too_many_redirects);
    CHECK(res.error().message.find("more than 3 redirects") != std::string::npos);
    CHECK(server->requests.size() == 4);
}

TEST_CASE("redirects: too_many_redirects after max_redirects hops") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded&) { return redirect(302, "/loop"); });
    run(io, redirect_loop_case(server));
}

asio::awaitable<void> insecure_redirect_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    auto req = get(server->url("/v2/"));
    auto res = co_await client.send(std::move(req));
    REQUIRE(res.has_error());
    CHECK(res.error().code == errc::insecure_refused);
}

TEST_CASE("redirects: a redirect to plain HTTP on another host is refused") {
    asio::io_context io;
    auto server =
        scripted_server::start(io, [](const recorded&) { return redirect(302, "http://example.com/blob"); });
    run(io, insecure_redirect_case(server));
}

asio::awaitable<void> body_limit_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    {
        auto req = get(server->url("/sized"));
        auto res = co_await client.send(std::move(req), 1000);
        REQUIRE(res.has_error());
        CHECK(res.error().code == errc::too_large);
        CHECK(res.error().message.find("2000 bytes") != std::string::npos);
        CHECK(res.error().message.find("limit of 1000 bytes") != std::string::npos);
    }
    {
        auto req = get(server->url("/chunked"));
        auto res = co_await client.send(std::move(req), 1000);
        REQUIRE(res.has_error());
        CHECK(res.error().code == errc::too_large);
    }
    {
        auto req = get(server->url("/sized"));
        auto res = co_await client.send(std::move(req), 2000);
        REQUIRE(res.has_value());
        CHECK(res->body.size() == 2000);
    }
    {
        auto req = get(server->url("/chunked"));
        auto res = co_await client.send(std::move(req), 2000);
        REQUIRE(res.has_value());
        CHECK(res->body == pattern(2000));
    }
}

TEST_CASE("send: body_limit gives too_large") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded& request) {
        if (request.target == "/chunked") return reply{chunked_text(pattern(2000), 300)};
        return ok(pattern(2000));
    });
    run(io, body_limit_case(server));
}

asio::awaitable<void> head_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    lh::request head;
    head.method = bhttp::verb::head;
    head.url = server->url("/v2/repo/manifests/latest");
    auto res = co_await client.send(std::move(head));
    REQUIRE(res.has_value());
    CHECK(res->status == 200);
    CHECK(res->body.empty());
    CHECK(res->header("Content-Length") == "12345");
    CHECK(res->header("Docker-Content-Digest") == "sha256:abc");

    lh::request head_again;
    head_again.method = bhttp::verb::head;
    head_again.url = server->url("/v2/repo/manifests/latest");
    auto opened = co_await client.open(std::move(head_again));
    REQUIRE(opened.has_value());
    CHECK((*opened)->content_length() == 12345);
    CHECK(client.stats().connections_opened == 1);
}

TEST_CASE("HEAD: no body is read and the connection stays usable") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded&) {
        return reply{"HTTP/1.1 200 OK\r\nContent-Length: 12345\r\nDocker-Content-Digest: sha256:abc\r\n\r\n"};
    });
    run(io, head_case(server));
}

asio::awaitable<void> idle_timeout_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    auto options = test_client_options();
    options.idle_timeout = 300ms;
    lh::client client(executor, options);
    const auto started = std::chrono::steady_clock::now();
    auto req = get(server->url("/v2/"));
    auto res = co_await client.send(std::move(req));
    const auto elapsed = std::chrono::steady_clock::now() - started;
    REQUIRE(res.has_error());
    CHECK(res.error().code == errc::timeout);
    CHECK(res.error().retryable());
    CHECK(res.error().message.find("no data moved for 300 ms") != std::string::npos);
    CHECK(elapsed >= 250ms);
    CHECK(elapsed < 2s);
}

TEST_CASE("idle timeout: a stalled server gives errc::timeout") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded&) {
        return reply{response_text(200, "late"), false, 3s};
    });
    run(io, idle_timeout_case(server));
}

/// Options holding bodies to `rate` over `window`, with an idle timeout far longer than the test may take, so
/// only the minimum rate can end a slow body in time.
lh::client_options min_rate_options(std::uint64_t rate, std::chrono::milliseconds window) {
    auto options = test_client_options();
    options.idle_timeout = 60s;
    options.min_rate.bytes_per_second = rate;
    options.min_rate.window = window;
    options.min_rate_hint = "lower it with --min-rate";
    return options;
}

/// Reads `path` to its end or its first failure: the bytes read and the failure.
asio::awaitable<std::pair<std::size_t, std::optional<libregistry::error>>>
read_body(lh::client& client, std::string url, std::chrono::milliseconds pause_between_reads = 0ms) {
    const auto executor = co_await asio::this_coro::executor;
    auto req = get(std::move(url));
    auto opened = co_await client.open(std::move(req));
    if (!opened) co_return std::pair{std::size_t{0}, std::optional(opened.error())};
    std::array<std::byte, 16 * 1024> buffer{};
    std::size_t total = 0;
    for (;;) {
        auto n = co_await (*opened)->read_some(buffer);
        if (!n) co_return std::pair{total, std::optional(n.error())};
        if (*n == 0) co_return std::pair{total, std::optional<libregistry::error>()};
        total += *n;
        if (pause_between_reads > 0ms) {
            asio::steady_timer pause(executor, pause_between_reads);
            co_await pause.async_wait(use_tuple);
        }
    }
}

asio::awaitable<void> trickle_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, min_rate_options(4 * 1024, 1s));
    for (const std::string path : {"/trickle", "/stall"}) {
        CAPTURE(path);
        const auto started = std::chrono::steady_clock::now();
        // Named, not structured bindings: clang 14 cannot capture those in CAPTURE's lambda.
        const auto outcome = co_await read_body(client, server->url(path));
        const std::size_t bytes = outcome.first;
        const auto& failure = outcome.second;
        const auto elapsed = std::chrono::steady_clock::now() - started;
        // Regression (issue 10): the idle timeout re-armed on every byte, so a body arriving at 200 B/s
        // (20,000 bytes: 95 s) was read to its end, and a stall mid-body waited for the idle timeout.
        REQUIRE(failure.has_value());
        CAPTURE(failure->message);
        CHECK(failure->code == errc::timeout);
        CHECK(failure->retryable());
        CHECK(failure->message.starts_with("GET " + server->url(path) + " failed: the body arrived at "));
        CHECK(
            failure->message.ends_with("/s, below the minimum of 4 KiB/s over 1s; lower it with --min-rate"));
        CHECK(bytes >= 1000);
        CHECK(bytes < 20'000);
        CHECK(elapsed >= 900ms);
        CHECK(elapsed < 10s);
    }
    // A connection that failed this way is not reused.
    CHECK(server->connections == 2);
}

TEST_CASE("minimum rate: a body trickling below it, or stalling mid-way, fails after the window") {
    asio::io_context io;
    const std::string body = pattern(20'000);
    auto server = scripted_server::start(io, [&body](const recorded& r) {
        if (r.target == "/trickle") return trickling(200, body, 1000, 10, 50ms);
        return trickling(200, body, 1000, body.size(), 60s);
    });
    run(io, trickle_case(server));
}

asio::awaitable<void> slow_reader_case(std::shared_ptr<scripted_server> server, std::size_t size) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, min_rate_options(1024 * 1024, 500ms));
    // 16 KiB every 100 ms: about 160 KiB/s by the wall clock, far below the 1 MiB/s minimum, but the server
    // sent everything at once: the reader is slow, not the server.
    const auto started = std::chrono::steady_clock::now();
    const auto outcome = co_await read_body(client, server->url("/blob"), 100ms);
    const std::size_t bytes = outcome.first;
    const auto& failure = outcome.second;
    CHECK_MESSAGE(!failure.has_value(), (failure ? failure->message : std::string()));
    CHECK(bytes == size);
    CHECK(std::chrono::steady_clock::now() - started > 1s);
}

TEST_CASE("minimum rate: only time spent waiting for the server counts, not a slow reader") {
    asio::io_context io;
    const std::string body = pattern(300'000);
    auto server = scripted_server::start(io, [&body](const recorded&) { return ok(body); });
    run(io, slow_reader_case(server, body.size()));
}

/// Sends 64 MiB, 1 MiB at a time.
class big_source final : public lh::body_source {
public:
    asio::awaitable<libregistry::result<std::span<const std::byte>>> next() override {
        if (sent_ == 64) co_return std::span<const std::byte>();
        ++sent_;
        co_return std::as_bytes(std::span<const char>(chunk_));
    }

private:
    std::string chunk_ = pattern(1024 * 1024);
    int sent_ = 0;
};

asio::awaitable<void> slow_upload_case() {
    const auto executor = co_await asio::this_coro::executor;
    // A server that accepts the connection and never reads: once the socket buffers are full, the upload
    // does not move at all.
    tcp::acceptor acceptor(executor, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    const auto port = acceptor.local_endpoint().port();
    tcp::socket held(executor);
    acceptor.async_accept(held, [](boost::system::error_code) {});

    lh::client client(executor, min_rate_options(64 * 1024, 1s));
    big_source source;
    lh::request req;
    req.method = bhttp::verb::put;
    req.url = "http://127.0.0.1:" + std::to_string(port) + "/v2/repo/blobs/uploads/1";
    req.source = &source;
    req.content_length = 64 * 1024 * 1024;
    const auto started = std::chrono::steady_clock::now();
    auto res = co_await client.send(std::move(req));
    const auto elapsed = std::chrono::steady_clock::now() - started;
    REQUIRE(res.has_error());
    CAPTURE(res.error().message);
    CHECK(res.error().code == errc::timeout);
    CHECK(res.error().message.starts_with("PUT http://127.0.0.1:" + std::to_string(port) +
                                          "/v2/repo/blobs/uploads/1 failed: the server took the body at "));
    CHECK(res.error().message.ends_with(
        " B/s, below the minimum of 64 KiB/s over 1s; lower it with --min-rate"));
    CHECK(elapsed < 10s);
}

TEST_CASE("minimum rate: an upload the server stops taking fails after the window") {
    asio::io_context io;
    run(io, slow_upload_case());
}

asio::awaitable<void> abort_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());

    // A response body in progress, and a request whose answer has not come: both fail at once as cancelled.
    auto partial_req = get(server->url("/partial"));
    auto partial = co_await client.open(std::move(partial_req));
    REQUIRE(partial.has_value());
    std::array<std::byte, 64> buffer{};
    auto first = co_await (*partial)->read_some(buffer);
    REQUIRE(first.has_value());
    CHECK(*first == 10);

    // A retry pause in progress ends too.
    std::function<asio::awaitable<void>()> pausing = [&client]() -> asio::awaitable<void> {
        co_await client.pause(60s);
    };
    bool pause_over = false;
    asio::co_spawn(executor, pausing, [&pause_over](std::exception_ptr) { pause_over = true; });

    asio::steady_timer later(executor, 200ms);
    later.async_wait([&client](boost::system::error_code) { client.abort(400ms); });
    const auto started = std::chrono::steady_clock::now();
    auto stalled_req = get(server->url("/stall"));
    auto stalled = co_await client.send(std::move(stalled_req));
    CHECK(std::chrono::steady_clock::now() - started < 2s);
    asio::steady_timer settle(executor, 10ms);
    co_await settle.async_wait(use_tuple);
    CHECK(pause_over);
    const auto pause_started = std::chrono::steady_clock::now();
    co_await client.pause(60s); // returns at once after abort()
    CHECK(std::chrono::steady_clock::now() - pause_started < 100ms);
    REQUIRE(stalled.has_error());
    CHECK(stalled.error().code == errc::cancelled);
    CHECK_FALSE(stalled.error().retryable());
    CHECK(stalled.error().message.find("GET " + server->url("/stall") + " was cancelled") !=
          std::string::npos);
    auto rest = co_await (*partial)->read_some(buffer);
    REQUIRE(rest.has_error());
    CHECK(rest.error().code == errc::cancelled);

    // Afterwards requests still go out, on new connections and with the short timeouts.
    const int connections = server->connections;
    auto cleanup_req = get(server->url("/ok"));
    cleanup_req.method = bhttp::verb::delete_;
    auto cleanup = co_await client.send(std::move(cleanup_req));
    REQUIRE(cleanup.has_value());
    CHECK(cleanup->status == 200);
    CHECK(server->connections == connections + 1);
    const auto slow_started = std::chrono::steady_clock::now();
    auto slow_req = get(server->url("/stall"));
    auto slow = co_await client.send(std::move(slow_req));
    REQUIRE(slow.has_error());
    CHECK(slow.error().code == errc::timeout);
    CHECK(slow.error().message.find("no data moved for 400 ms") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - slow_started < 2s);
}

TEST_CASE("abort: requests in flight fail as cancelled at once; later ones get short timeouts") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded& r) {
        if (r.target == "/stall") return reply{response_text(200, "late"), false, 10s};
        if (r.target == "/partial")
            return reply{"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + pattern(10)};
        return ok("fine");
    });
    run(io, abort_case(server));
}

asio::awaitable<void> refused_case(std::uint16_t port) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v2/";
    auto req = get(url);
    auto res = co_await client.send(std::move(req));
    REQUIRE(res.has_error());
    CHECK(res.error().code == errc::connection_failed);
    CHECK(res.error().message == "GET " + url + " failed: connection refused");
}

TEST_CASE("connect: connection refused says so") {
    asio::io_context io;
    std::uint16_t port = 0;
    {
        tcp::acceptor closed(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
        port = closed.local_endpoint().port();
    }
    run(io, refused_case(port));
}

asio::awaitable<void> insecure_case() {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    auto req = get("http://example.com/v2/");
    auto res = co_await client.send(std::move(req));
    REQUIRE(res.has_error());
    CHECK(res.error().code == errc::insecure_refused);
    CHECK(res.error().message.find("GET http://example.com/v2/") == 0);
    CHECK(client.stats().connections_opened == 0);

    auto bad = get("ftp://example.com/");
    res = co_await client.send(std::move(bad));
    REQUIRE(res.has_error());
    CHECK(res.error().code == errc::invalid_argument);
}

TEST_CASE("plain HTTP to a non-loopback host is refused before connecting") {
    asio::io_context io;
    run(io, insecure_case());
}

asio::awaitable<void> truncated_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    for (const char* path : {"/sized", "/chunked"}) {
        CAPTURE(path);
        auto req = get(server->url(path));
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_error());
        CHECK(res.error().code == errc::connection_failed);
        CHECK(res.error().retryable());
    }
    auto req = get(server->url("/sized"));
    auto opened = co_await client.open(std::move(req));
    REQUIRE(opened.has_value());
    std::array<std::byte, 64> buffer;
    std::size_t total = 0;
    libregistry::result<std::size_t> n = std::size_t{0};
    for (;;) {
        const std::span<std::byte> window(buffer);
        n = co_await (*opened)->read_some(window);
        if (!n || *n == 0) break;
        total += *n;
    }
    REQUIRE(n.has_error());
    CHECK(n.error().code == errc::connection_failed);
    CHECK(total == 100);
}

TEST_CASE("a server that closes mid-body gives connection_failed") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded& request) {
        if (request.target == "/chunked")
            return reply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + pattern(50), true};
        return reply{"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + pattern(100), true};
    });
    run(io, truncated_case(server));
}

asio::awaitable<void> ipv6_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    const std::string url = "http://[::1]:" + std::to_string(server->port()) + "/v2/";
    auto req = get(url);
    auto res = co_await client.send(std::move(req));
    REQUIRE_MESSAGE(res.has_value(), res.error().message);
    CHECK(res->body == "six");
    CHECK(res->url == url);
    CHECK(server->requests.back().header("Host") == "[::1]:" + std::to_string(server->port()));
}

TEST_CASE("an IPv6 literal URL (loopback, so plain HTTP is allowed)") {
    asio::io_context io;
    std::shared_ptr<scripted_server> server;
    try {
        server = scripted_server::start(io, [](const recorded&) { return ok("six"); },
                                        {.address = asio::ip::address_v6::loopback()});
    } catch (const boost::system::system_error&) {
        MESSAGE("no IPv6 loopback here; skipped");
        return;
    }
    run(io, ipv6_case(server));
}

asio::awaitable<void> http_proxy_case(std::shared_ptr<scripted_server> proxy) {
    const auto executor = co_await asio::this_coro::executor;
    auto options = test_client_options();
    options.proxy.http_proxy = "http://user:pass@127.0.0.1:" + std::to_string(proxy->port());
    options.proxy.no_proxy = "internal.example";
    options.settings_for = [](std::string_view) { return lh::host_settings{true, true, ""}; };
    lh::client client(executor, options);
    auto req = get("http://registry.example/v2/?n=1");
    auto res = co_await client.send(std::move(req));
    REQUIRE(res.has_value());
    CHECK(res->body == "via proxy");
    REQUIRE(proxy->requests.size() == 1);
    CHECK(proxy->requests[0].target == "http://registry.example/v2/?n=1");
    CHECK(proxy->requests[0].header("Host") == "registry.example");
    CHECK(proxy->requests[0].header("Proxy-Authorization") == "Basic dXNlcjpwYXNz");
}

TEST_CASE("proxy: plain HTTP goes to the proxy in absolute form") {
    asio::io_context io;
    auto proxy = scripted_server::start(io, [](const recorded&) { return ok("via proxy"); });
    run(io, http_proxy_case(proxy));
}

// --- TLS -------------------------------------------------------------------------------------------------

lh::client_options tls_options(bool verify, std::string cert_dir) {
    const lh::host_settings settings{false, verify, std::move(cert_dir)};
    auto options = test_client_options();
    options.settings_for = [settings](std::string_view) { return settings; };
    return options;
}

asio::awaitable<void> tls_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    const std::string certs = (test_pki::get().dir() / "certs").string();
    {
        lh::client client(executor, test_client_options());
        auto req = get(server->url("/v2/"));
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_error());
        CHECK(res.error().code == errc::tls_error);
        const std::string& message = res.error().message;
        CHECK(message.find("TLS handshake with 127.0.0.1:" + std::to_string(server->port()) +
                           " failed: certificate verify failed (") != std::string::npos);
        CHECK(message.find("--src-cert-dir/--dest-cert-dir") != std::string::npos);
    }
    {
        lh::client client(executor, tls_options(true, certs));
        for (int i = 0; i < 2; ++i) {
            auto req = get(server->url("/v2/"));
            auto res = co_await client.send(std::move(req));
            REQUIRE_MESSAGE(res.has_value(), res.error().message);
            CHECK(res->body == "secure");
        }
        CHECK(client.stats().tls_handshakes == 1);
        CHECK(client.stats().connections_opened == 1);
    }
    {
        lh::client client(executor, tls_options(false, ""));
        auto req = get(server->url("/v2/"));
        auto res = co_await client.send(std::move(req));
        REQUIRE_MESSAGE(res.has_value(), res.error().message);
        CHECK(res->body == "secure");
    }
    {
        // The certificate names 127.0.0.1 only.
        lh::client client(executor, tls_options(true, certs));
        auto req = get("https://localhost:" + std::to_string(server->port()) + "/v2/");
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_error());
        CHECK(res.error().code == errc::tls_error);
        CHECK(res.error().message.find("hostname mismatch") != std::string::npos);
    }
    {
        lh::client client(executor, tls_options(true, "/nonexistent/certs.d"));
        auto req = get(server->url("/v2/"));
        auto res = co_await client.send(std::move(req));
        REQUIRE(res.has_error());
        CHECK(res.error().code == errc::tls_error);
        CHECK(res.error().message.find("/nonexistent/certs.d") != std::string::npos);
    }
}

TEST_CASE("TLS: verification against the system store, a cert_dir, or none") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded&) { return ok("secure"); },
                                         {.tls = test_pki::get().server_context()});
    run(io, tls_case(server));
}

asio::awaitable<void> client_cert_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, tls_options(true, (test_pki::get().dir() / "mtls").string()));
    auto req = get(server->url("/v2/"));
    auto res = co_await client.send(std::move(req));
    REQUIRE_MESSAGE(res.has_value(), res.error().message);
    CHECK(res->body == "mutual");

    lh::client anonymous(executor, tls_options(true, (test_pki::get().dir() / "certs").string()));
    auto again = get(server->url("/v2/"));
    res = co_await anonymous.send(std::move(again));
    CHECK(res.has_error());
}

TEST_CASE("TLS: a client certificate from cert_dir (name.cert + name.key)") {
    asio::io_context io;
    auto server = scripted_server::start(io, [](const recorded&) { return ok("mutual"); },
                                         {.tls = test_pki::get().server_context(true)});
    run(io, client_cert_case(server));
}

asio::awaitable<void> resumption_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, tls_options(true, (test_pki::get().dir() / "certs").string()));
    auto first = get(server->url("/v2/"));
    first.tally = "registry.example";
    auto res = co_await client.send(std::move(first));
    REQUIRE_MESSAGE(res.has_value(), res.error().message);
    // Three at once: the idle connection and two new ones, which resume the first one's session.
    std::vector<asio::awaitable<void>> tasks;
    for (int i = 0; i < 3; ++i)
        tasks.push_back([](lh::client& c, std::string url) -> asio::awaitable<void> {
            auto req = get(std::move(url));
            req.tally = "registry.example";
            auto answer = co_await c.send(std::move(req));
            REQUIRE_MESSAGE(answer.has_value(), answer.error().message);
            CHECK(answer->body == "slow");
        }(client, server->url("/v2/repo/tags/list")));
    co_await run_concurrently(std::move(tasks));
    const auto counted = client.stats("registry.example");
    CHECK(counted.connections_opened == 3);
    CHECK(counted.tls_handshakes == 1);
    CHECK(counted.tls_resumed == 2);
    CHECK(counted.requests == 4);
    CHECK(client.stats(server->host_port()).requests == 0);
    CHECK(client.stats().tls_resumed == 2);
}

TEST_CASE("TLS: new connections to a host resume the session of the first one (one full handshake)") {
    asio::io_context io;
    auto server = scripted_server::start(io, quick_ping_else_slow, {.tls = test_pki::get().server_context()});
    run(io, resumption_case(server));
    CHECK(server->connections == 3);
}

asio::awaitable<void> fetch_closing(lh::client& client, std::string url) {
    auto req = get(std::move(url));
    auto res = co_await client.send(std::move(req));
    REQUIRE_MESSAGE(res.has_value(), res.error().message);
    CHECK(res->body == "closing");
}

asio::awaitable<void> resumption_scope_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    auto settings = std::make_shared<lh::host_settings>(
        lh::host_settings{false, true, (test_pki::get().dir() / "certs").string()});
    auto options = test_client_options();
    options.settings_for = [settings](std::string_view) { return *settings; };
    lh::client client(executor, options);
    const auto fetch = [&client](std::string url) { return fetch_closing(client, std::move(url)); };
    const std::string by_address = server->url("/v2/");
    const std::string name = "localhost:" + std::to_string(server->port());
    const std::string by_name = "https://" + name + "/v2/";
    // The server closes every connection, so each request opens one.
    co_await fetch(by_address);
    co_await fetch(by_address);
    CHECK(client.stats().tls_handshakes == 1);
    CHECK(client.stats().tls_resumed == 1);
    // Other settings for the same host: what was verified under the first ones is not taken on trust.
    *settings = lh::host_settings{false, false, ""};
    co_await fetch(by_address);
    CHECK(client.stats().tls_handshakes == 2);
    co_await fetch(by_address);
    CHECK(client.stats().tls_resumed == 2);
    // The same server under another name is another host: a full handshake.
    co_await fetch(by_name);
    CHECK(client.stats().tls_handshakes == 3);
    CHECK(client.stats().tls_resumed == 2);
    CHECK(client.stats().connections_opened == 5);
    CHECK(client.stats(name).tls_handshakes == 1);
}

// Three slow requests at once, counted under "registry.example".
asio::awaitable<void> three_slow_requests(lh::client& client, std::string url) {
    std::vector<asio::awaitable<void>> tasks;
    for (int i = 0; i < 3; ++i)
        tasks.push_back([](lh::client& c, std::string u) -> asio::awaitable<void> {
            auto req = get(std::move(u));
            req.tally = "registry.example";
            auto answer = co_await c.send(std::move(req));
            REQUIRE_MESSAGE(answer.has_value(), answer.error().message);
            CHECK(answer->body == "slow");
        }(client, url));
    co_await run_concurrently(std::move(tasks));
}

asio::awaitable<void> warm_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    const std::string url = server->url("/v2/repo/tags/list");
    client.warm(url, 3, "registry.example");
    client.warm(url, 3, "registry.example"); // those being opened count: no more
    asio::steady_timer settle(executor, 50ms);
    co_await settle.async_wait(use_tuple);
    CHECK(client.stats("registry.example").connections_opened == 3);
    CHECK(client.stats().requests == 0);
    co_await three_slow_requests(client, url);
    CHECK(client.stats().connections_opened == 3);
    client.warm(url, 3); // three are open already
    client.warm(url, 2);
    co_await settle.async_wait(use_tuple);
    CHECK(client.stats().connections_opened == 3);
}

TEST_CASE(
    "warm: connections opened ahead serve the requests that follow, and no more than asked are opened") {
    asio::io_context io;
    auto server = scripted_server::start(io, quick_ping_else_slow);
    run(io, warm_case(server));
    CHECK(server->connections == 3);
    CHECK(server->requests.size() == 3);
}

asio::awaitable<void> warm_then_burst_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, test_client_options());
    const std::string url = server->url("/v2/repo/tags/list");
    // The requests start before any of the three connections is open: they wait for them, and a fourth
    // request, for which none is being opened, connects itself.
    client.warm(url, 3);
    std::vector<asio::awaitable<void>> tasks;
    tasks.push_back(three_slow_requests(client, url));
    tasks.push_back([](lh::client& c, std::string u) -> asio::awaitable<void> {
        auto answer = co_await c.send(get(std::move(u)));
        REQUIRE_MESSAGE(answer.has_value(), answer.error().message);
    }(client, url));
    co_await run_concurrently(std::move(tasks));
    CHECK(client.stats().connections_opened == 4);
    CHECK(client.stats().requests == 4);
}

TEST_CASE("warm: requests that start while connections are being opened ahead wait for them") {
    asio::io_context io;
    auto server = scripted_server::start(io, quick_ping_else_slow);
    run(io, warm_then_burst_case(server));
    CHECK(server->connections == 4);
}

asio::awaitable<void> warm_tls_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, tls_options(true, (test_pki::get().dir() / "certs").string()));
    auto first = get(server->url("/v2/"));
    first.tally = "registry.example";
    auto res = co_await client.send(std::move(first));
    REQUIRE_MESSAGE(res.has_value(), res.error().message);
    client.warm(server->url("/v2/"), 3, "registry.example");
    // Long enough for the server's session tickets to wait, unread, on the two new connections.
    asio::steady_timer settle(executor, 100ms);
    co_await settle.async_wait(use_tuple);
    co_await three_slow_requests(client, server->url("/v2/repo/tags/list"));
    const auto counted = client.stats("registry.example");
    CHECK(counted.connections_opened == 3);
    CHECK(counted.tls_handshakes == 1);
    CHECK(counted.tls_resumed == 2);
    CHECK(counted.requests == 4);
}

TEST_CASE("warm: TLS connections opened ahead resume the session and are used despite unread tickets") {
    asio::io_context io;
    auto server = scripted_server::start(io, quick_ping_else_slow, {.tls = test_pki::get().server_context()});
    run(io, warm_tls_case(server));
    CHECK(server->connections == 3);
}

asio::awaitable<void> preconnect_case(std::shared_ptr<scripted_server> server) {
    const auto executor = co_await asio::this_coro::executor;
    lh::client client(executor, tls_options(true, (test_pki::get().dir() / "certs").string()));
    const std::string url = server->url("/v2/");
    client.preconnect(url, 2, "registry.example");
    client.preconnect(url, 2, "registry.example"); // those being dialled count: no more
    asio::steady_timer timer(executor);
    for (int i = 0; i < 400 && client.stats().connections_opened < 2; ++i) {
        timer.expires_after(5ms);
        co_await timer.async_wait(use_tuple);
    }
    CHECK(client.stats("registry.example").connections_opened == 2);
    CHECK(client.stats().tls_handshakes == 0); // TCP only: the scheme is the next request's
    // The first request does its TLS handshake on one of them, the connections warmed after it on the other
    // (resuming its session) and on a new one.
    auto first = co_await client.send(get(url));
    REQUIRE_MESSAGE(first.has_value(), first.error().message);
    client.warm(url, 3);
    timer.expires_after(100ms);
    co_await timer.async_wait(use_tuple);
    co_await three_slow_requests(client, server->url("/v2/repo/tags/list"));
    CHECK(client.stats().connections_opened == 3);
    CHECK(client.stats().tls_handshakes == 1);
    CHECK(client.stats().tls_resumed == 2);
}

TEST_CASE("preconnect: TCP connections opened ahead are taken by the next connections, TLS or not") {
    asio::io_context io;
    auto server = scripted_server::start(io, quick_ping_else_slow, {.tls = test_pki::get().server_context()});
    run(io, preconnect_case(server));
    CHECK(server->connections == 3);
}

TEST_CASE("TLS: a session is resumed only with the host and the TLS settings it was made with") {
    asio::io_context io;
    auto server = scripted_server::start(io,
                                         [](const recorded&) {
                                             return reply{response_text(200, "closing"), true};
                                         },
                                         {.tls = test_pki::get().server_context()});
    run(io, resumption_scope_case(server));
    CHECK(server->connections == 5);
}

asio::awaitable<void> connect_proxy_case(std::shared_ptr<scripted_server> proxy) {
    const auto executor = co_await asio::this_coro::executor;
    auto options = tls_options(false, "");
    options.proxy.https_proxy = "http://user:pass@127.0.0.1:" + std::to_string(proxy->port());
    lh::client client(executor, options);
    for (int i = 0; i < 2; ++i) {
        auto req = get("https://registry.example/v2/");
        auto res = co_await client.send(std::move(req));
        REQUIRE_MESSAGE(res.has_value(), res.error().message);
        CHECK(res->body == "tunnelled");
    }
    REQUIRE(proxy->requests.size() == 3);
    CHECK(proxy->requests[0].method == "CONNECT");
    CHECK(proxy->requests[0].target == "registry.example:443");
    CHECK(proxy->requests[0].header("Proxy-Authorization") == "Basic dXNlcjpwYXNz");
    CHECK(proxy->requests[1].target == "/v2/");
    CHECK(proxy->requests[1].header("Host") == "registry.example");
    CHECK(proxy->requests[1].header("Proxy-Authorization").empty());
    CHECK(client.stats().connections_opened == 1);
}

TEST_CASE("proxy: HTTPS goes through a CONNECT tunnel") {
    asio::io_context io;
    auto proxy = scripted_server::start(io,
                                        [](const recorded& request) {
                                            if (request.method == "CONNECT")
                                                return reply{"HTTP/1.1 200 Connection established\r\n\r\n"};
                                            return ok("tunnelled");
                                        },
                                        {.tls = test_pki::get().server_context(), .connect_proxy = true});
    run(io, connect_proxy_case(proxy));
}

asio::awaitable<void> proxy_refused_case(std::shared_ptr<scripted_server> proxy) {
    const auto executor = co_await asio::this_coro::executor;
    auto options = test_client_options();
    options.proxy.https_proxy = "http://127.0.0.1:" + std::to_string(proxy->port());
    lh::client client(executor, options);
    auto req = get("https://registry.example/v2/");
    auto res = co_await client.send(std::move(req));
    REQUIRE(res.has_error());
    CHECK(res.error().code == errc::proxy_error);
    CHECK(res.error().message.find("refused CONNECT registry.example:443 with 407") != std::string::npos);
}

TEST_CASE("proxy: a refused CONNECT gives proxy_error") {
    asio::io_context io;
    auto proxy =
        scripted_server::start(io,
                               [](const recorded&) {
                                   return reply{response_text(407, "", {{"Proxy-Authenticate", "Basic"}})};
                               },
                               {.connect_proxy = true});
    run(io, proxy_refused_case(proxy));
}

} // namespace
