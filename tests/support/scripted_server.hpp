#pragma once
// A scripted HTTP/1.1 server for tests of the transport and of the registry client: raw Asio plus Beast's
// request parser, listening on a loopback address in the test's own io_context (no threads, no processes).
//
// What a test can script:
// - Each request, with one handler called for every request in arrival order. It sees the request as
//   `recorded` (connection number, method, target, headers, body) and returns the bytes to answer with,
//   verbatim, so malformed and unusual answers are as easy as ordinary ones. State the handler captures
//   (counters, per-path maps, the bytes of an upload so far) scripts protocols that take several requests: a
//   401, a token, then a 200; two 503s, then a 200; an upload session that reports its Range.
// - Stalls: `reply::stall` waits before answering (idle timeouts, requests that must overlap in time).
// - Slow bodies: `trickling()` sends the start of a body at once and the rest a few bytes at a time with
//   pauses between (a source below the minimum transfer rate); with one long pause, a stall mid-body.
// - Closing: `reply::close` drops the connection after the answer. `truncated()` sends part of a body and
//   drops the connection (a download broken mid-body); `hang_up()` drops it without answering.
// - A request broken mid-body: `server_options::cut_body` looks at each request's head before its body is
//   read; returning N makes the server read only N bytes of the body and drop the connection. The handler
//   is still called, with those N bytes and `recorded::broken` set (its reply is not sent), so it can keep
//   what "arrived".
// - TLS: `server_options::tls` (test_pki makes a CA, a certificate for 127.0.0.1 and a client certificate).
// - Proxies: a plain server sees an HTTP proxy's absolute-form targets; `server_options::connect_proxy`
//   answers one CONNECT per connection and then serves the tunnelled requests (over TLS when `tls` is set).
//
// Everything the server saw stays in `requests`; `connections` counts accepted connections and `not_http`
// the connections of a plain server whose first bytes were not HTTP (a TLS ClientHello: a client trying
// HTTPS first).
#include "libregistry/http/client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace libregistry::testing {

/// One request as the server read it.
struct recorded {
    int connection = 0;  ///< 1 for the first connection accepted, and so on
    bool tls = false;    ///< it came over TLS
    bool broken = false; ///< server_options::cut_body dropped the connection after `body`
    std::string method;
    std::string target; ///< as sent: origin form, or absolute form through a proxy
    http::fields headers;
    std::string body;

    std::string header(std::string_view name) const { return std::string(http::find_header(headers, name)); }
    /// The target without its query.
    std::string path() const;
    /// The decoded values of a query parameter, in order (`scope` may repeat).
    std::vector<std::string> query(std::string_view name) const;
};

/// What the server does with one request: wait `stall`, write `raw`, then `trickle` in pieces of
/// `trickle_piece` bytes, waiting `trickle_every` before each, then close the connection if `close`.
struct reply {
    std::string raw;
    bool close = false;
    std::chrono::milliseconds stall{0};
    std::string trickle{};
    std::size_t trickle_piece = 1;
    std::chrono::milliseconds trickle_every{0};
};

/// A status line, `headers`, a Content-Length (unless `headers` has one: a HEAD answer or a truncated body)
/// and `body`.
std::string response_text(int status, std::string_view body, const http::fields& headers = {});
/// A 200 answer with `body` in chunks of `chunk` bytes.
std::string chunked_text(std::string_view body, std::size_t chunk);

reply respond(int status, std::string_view body = {}, const http::fields& headers = {});
reply ok(std::string_view body, const http::fields& headers = {});
reply redirect(int status, std::string location);
/// Announces all of `body` but sends only its first `sent` bytes, then drops the connection.
reply truncated(int status, std::string_view body, std::size_t sent, const http::fields& headers = {});
/// Drops the connection without answering.
reply hang_up();
/// Answers `status` with `headers` and all of `body` announced, sends its first `at_once` bytes, and then the
/// rest `piece` bytes at a time, `every` apart.
reply trickling(int status, std::string_view body, std::size_t at_once, std::size_t piece,
                std::chrono::milliseconds every, const http::fields& headers = {});

/// `size` bytes of a 23-letter cycle, so a misplaced or dropped byte shows.
std::string pattern(std::size_t size);

struct server_options {
    std::shared_ptr<boost::asio::ssl::context> tls{};
    bool connect_proxy = false;
    boost::asio::ip::address address = boost::asio::ip::address_v4::loopback();
    /// Called with each request's head (empty body); a value N breaks the request after N body bytes.
    std::function<std::optional<std::size_t>(const recorded& head)> cut_body{};
};

class scripted_server : public std::enable_shared_from_this<scripted_server> {
public:
    using handler = std::function<reply(const recorded&)>;

    /// Listens on an ephemeral port of `options.address` and serves until the io_context is destroyed.
    static std::shared_ptr<scripted_server> start(boost::asio::io_context& io, handler handle,
                                                  server_options options = {});

    std::uint16_t port() const { return port_; }
    /// "127.0.0.1:PORT" ("[::1]:PORT" for IPv6).
    std::string host_port() const;
    /// scheme://host:port + path, https when the server speaks TLS directly.
    std::string url(std::string_view path) const;

    std::vector<recorded> requests;
    int connections = 0;
    int not_http = 0;

    /// How many requests had this method and path (query ignored).
    int count(std::string_view method, std::string_view path) const;

private:
    scripted_server(boost::asio::io_context& io, handler handle, server_options options);

    static boost::asio::awaitable<void> accept_loop(std::shared_ptr<scripted_server> self);
    static boost::asio::awaitable<void> serve_socket(std::shared_ptr<scripted_server> self,
                                                     boost::asio::ip::tcp::socket socket, int id);
    /// Reads one request and writes its scripted reply; false once the connection is done.
    template <class Stream>
    boost::asio::awaitable<bool> serve_one(Stream* stream, boost::beast::flat_buffer* buffer, int id,
                                           bool tls, bool first);

    boost::asio::ip::tcp::acceptor acceptor_;
    handler handle_;
    server_options options_;
    std::uint16_t port_ = 0;
    std::string host_;
};

/// Runs `test` on `io` to completion, rethrowing what it threw; throws when it takes longer than `limit`.
void run(boost::asio::io_context& io, boost::asio::awaitable<void> test,
         std::chrono::milliseconds limit = std::chrono::seconds(20));

/// Runs `tasks` concurrently on the current executor and returns when all are done, rethrowing the first
/// exception one of them threw.
boost::asio::awaitable<void> run_concurrently(std::vector<boost::asio::awaitable<void>> tasks);

/// Client options for tests: no proxy from the environment, 5 s timeouts, User-Agent "syncer-test/1".
http::client_options test_client_options();

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made once per process with the
/// openssl CLI in a temporary directory: `certs/` holds the CA (a cert_dir for verification), `mtls/` the
/// CA and the client certificate and key.
class test_pki {
public:
    static const test_pki& get();

    const std::filesystem::path& dir() const { return dir_; }
    /// A server context with the 127.0.0.1 certificate; optionally demanding a client certificate.
    std::shared_ptr<boost::asio::ssl::context> server_context(bool require_client_cert = false) const;

    test_pki(const test_pki&) = delete;
    test_pki& operator=(const test_pki&) = delete;
    ~test_pki();

private:
    test_pki();
    std::filesystem::path dir_;
};

} // namespace libregistry::testing
