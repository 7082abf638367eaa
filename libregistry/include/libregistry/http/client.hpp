#pragma once
// The HTTP/1.1 transport: the only part of libregistry that touches Beast and OpenSSL's TLS.
//
// One `client` per process, used from a single-threaded io_context (no locking anywhere). It keeps a pool of
// keep-alive connections per scheme://host:port, speaks TLS with SNI and hostname verification against the
// system CA store plus a per-host certificate directory (containers-certs.d convention), tunnels through
// HTTPS_PROXY / HTTP_PROXY with CONNECT, and follows redirects for GET and HEAD, dropping Authorization on
// any hop to another host. It knows nothing about registries or auth.
#include "libregistry/core/error.hpp"
#include "libregistry/core/transfer_rate.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace libregistry::http {

using fields = std::vector<std::pair<std::string, std::string>>;

/// Request methods. The layers above name them through this alias, so that only this layer includes Beast.
using verb = boost::beast::http::verb;

/// "GET", "PUT", ...
std::string_view method_name(verb method) noexcept;

/// Case-insensitive header lookup; "" when absent.
std::string_view find_header(const fields& headers, std::string_view name);

/// How to talk to one host. Plain HTTP is allowed only when `insecure` is set or the host is loopback
/// (127.0.0.0/8, ::1, localhost), as docker does; `tls_verify = false` skips certificate checks.
struct host_settings {
    bool insecure = false;
    bool tls_verify = true;
    std::string cert_dir; ///< `ca.crt`, `*.crt` (CAs), `*.cert` + `*.key` (client certificate)
};

/// Proxies from the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, lower-case variants too).
/// NO_PROXY entries: `*`, host names (matching the host and its subdomains, with or without a leading dot),
/// IP addresses, `host:port`.
struct proxy_settings {
    std::string https_proxy; ///< URL, e.g. http://user:pass@proxy:3128
    std::string http_proxy;
    std::string no_proxy;

    static proxy_settings from_environment();
    /// The proxy URL to use for `scheme://host:port`, or "" for a direct connection.
    std::string proxy_for(std::string_view scheme, std::string_view host, std::uint16_t port) const;
};

struct client_options {
    std::string user_agent;
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(30)};
    /// A request fails with errc::timeout when no byte moves for this long.
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(120)};
    /// Bodies, a response's and a request's, must move at least this fast over every window spent waiting on
    /// them (transfer_rate.hpp); slower fails with errc::timeout (retryable: a blob download resumes with
    /// Range). The idle timeout still bounds every wait, and alone bounds the wait for the response headers.
    min_transfer_rate min_rate;
    /// Appended to the message of a min_rate failure to say how to change the minimum (the CLI names its
    /// flags); may be empty.
    std::string min_rate_hint;
    /// Idle keep-alive connections kept per host; by default every one. A pool never holds more connections
    /// to a host than requests were in flight to it at once, so a cap only ever closes connections the next
    /// burst of requests opens again (with a TCP and TLS handshake each). 0 closes every connection after
    /// its request.
    std::size_t max_idle_per_host = std::numeric_limits<std::size_t>::max();
    int max_redirects = 10;
    proxy_settings proxy = proxy_settings::from_environment();
    /// Settings per host (host[:port] as in the URL); default-constructed settings when unset.
    std::function<host_settings(std::string_view host_port)> settings_for;
    /// When set, receives a description of every exchange (`--debug`): the request line and headers, and the
    /// response's status and headers, or why it failed. Secrets are redacted (redact_url; redact_header shows
    /// only the headers it knows to be harmless) and the known secrets scrubbed (known_secrets); bodies are
    /// never included.
    std::function<void(std::string_view)> debug;
};

/// Supplies a streamed request body chunk by chunk; an empty span means the body is complete.
class body_source {
public:
    virtual ~body_source() = default;
    virtual boost::asio::awaitable<result<std::span<const std::byte>>> next() = 0;
};

struct request {
    verb method = verb::get;
    std::string url; ///< absolute: http(s)://host[:port]/path?query
    fields headers;  ///< Host, User-Agent and Content-Length are added by the client
    std::string body;
    /// When set, the body is streamed from it instead of `body`; `content_length` must then be given
    /// (-1 sends it chunked).
    body_source* source = nullptr;
    std::int64_t content_length = -1;
    bool follow_redirects = true; ///< GET and HEAD only
    /// The key the client counts this request under in `stats(key)`, with the connections it opens and their
    /// TLS handshakes, wherever they go (a token service, a redirect to blob storage); the URL's host:port
    /// when empty. A registry client passes its registry's name.
    std::string tally;
};

struct response {
    int status = 0;
    fields headers;
    std::string body;
    std::string url; ///< the URL that answered, after redirects

    std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

/// A response whose body is read incrementally; owns its connection, which goes back to the pool when the
/// body was read to the end and is closed otherwise.
class response_stream {
public:
    virtual ~response_stream() = default;
    virtual int status() const = 0;
    virtual const fields& headers() const = 0;
    virtual const std::string& url() const = 0;
    /// Content-Length, or -1 when the body is chunked or unbounded.
    virtual std::int64_t content_length() const = 0;
    /// Reads up to `buffer.size()` bytes; 0 at the end of the body. A connection that breaks mid-body gives
    /// an error with errc::connection_failed (retryable).
    virtual boost::asio::awaitable<result<std::size_t>> read_some(std::span<std::byte> buffer) = 0;

    std::string_view header(std::string_view name) const { return find_header(headers(), name); }
};

class client {
public:
    client(boost::asio::any_io_executor executor, client_options options);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Sends `req` and reads the whole response body, failing with errc::too_large past `body_limit` bytes.
    boost::asio::awaitable<result<response>> send(request req, std::size_t body_limit = 16 * 1024 * 1024);

    /// Sends `req` and returns once the response headers are read; the body is left to the caller.
    boost::asio::awaitable<result<std::unique_ptr<response_stream>>> open(request req);

    const client_options& options() const noexcept;

    /// Opens connections to `url`'s origin in the background, until `count` are open there (idle, in use or
    /// being opened), so that a burst of requests about to start finds them ready instead of each paying a
    /// TCP (and TLS) handshake first. They wait in the pool like any idle connection; opening them is counted
    /// under `tally` (the origin's host:port when empty). A connection that cannot be opened is only
    /// described to `client_options::debug`: the requests themselves report what fails. Nothing is opened
    /// when the pool keeps no idle connections.
    void warm(const std::string& url, std::size_t count, const std::string& tally = {});

    /// Opens TCP connections to `url`'s host and port in the background, up to `count` not yet taken, for
    /// the next connections to that host whatever their scheme (one that speaks TLS does its handshake on
    /// it then): a registry whose scheme a ping is still finding out, and whose TLS session that ping brings,
    /// can have the TCP round trip of its next connections done meanwhile. Counted under `tally` as opened
    /// connections. Nothing is opened for a host reached through a proxy, or when the pool keeps no idle
    /// connections.
    void preconnect(const std::string& url, std::size_t count, const std::string& tally = {});

    /// Closes every connection, idle or in use, at once: each request or response body in progress fails
    /// with errc::cancelled (not retryable). Later requests are still sent, with connect and idle timeouts
    /// cut to `timeout`, so that a caller winding down can still clean up (delete abandoned upload sessions)
    /// without hanging on a registry that does not answer.
    void abort(std::chrono::milliseconds timeout);

    /// Waits `delay`, or less: abort() ends every pause in progress, and once it was called pause returns at
    /// once. Retry loops on this client wait with it, so a backoff or a registry's Retry-After (up to ten
    /// minutes) cannot hold up a client that is being shut down.
    boost::asio::awaitable<void> pause(std::chrono::milliseconds delay);

    /// Counters for reports, tests and benchmarks.
    struct statistics {
        std::uint64_t connections_opened = 0;
        std::uint64_t tls_handshakes = 0; ///< full handshakes (certificates sent and verified)
        std::uint64_t tls_resumed = 0;    ///< handshakes that resumed a session the host issued earlier
        std::uint64_t requests = 0;       ///< requests written, resends on a fresh connection included
    };
    /// All requests'.
    statistics stats() const noexcept;
    /// Those of the requests counted under `tally` (request::tally, or the host:port they went to).
    statistics stats(std::string_view tally) const;

private:
    struct impl;
    std::shared_ptr<impl> impl_; ///< shared with the coroutines warm() leaves running
};

/// True for 127.0.0.0/8, ::1 and `localhost` (port ignored).
bool is_loopback_host(std::string_view host_port);

} // namespace libregistry::http
