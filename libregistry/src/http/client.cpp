#include "libregistry/http/client.hpp"

#include "libregistry/core/redact.hpp"

#include "core/detail/ascii.hpp"
#include "core/detail/base64.hpp"
#include "http/tls.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <deque>
#include <optional>
#include <poll.h>
#include <unordered_map>
#include <unordered_set>

namespace libregistry::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
namespace urls = boost::urls;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;

std::string_view method_name(verb method) noexcept {
    return bhttp::to_string(method);
}

std::string_view find_header(const fields& headers, std::string_view name) {
    for (const auto& [key, value] : headers)
        if (beast::iequals(key, name)) return value;
    return {};
}

namespace {

const auto use_tuple = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t io_chunk = 64 * 1024;
constexpr std::uint32_t header_limit = 64 * 1024;

using tls_stream = beast::ssl_stream<beast::tcp_stream>;
constexpr std::size_t read_buffer_size = 256 * 1024;

using request_message = bhttp::request<bhttp::buffer_body>;
using request_serializer = bhttp::request_serializer<bhttp::buffer_body>;
using response_parser = bhttp::response_parser<bhttp::buffer_body>;

/// An absolute http(s) URL taken apart for dialling, the Host header and the pool key.
struct endpoint {
    bool tls = false;
    bool ipv6 = false;
    std::string scheme;
    std::string host;      ///< lower case, no brackets: for DNS, SNI and certificate checks
    std::string authority; ///< host[:port] as written: the Host header and the settings_for key
    std::uint16_t port = 0;
    std::string target; ///< origin-form request target
    std::string url;    ///< without userinfo and fragment

    std::string host_port() const { return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port); }
    std::string origin() const { return scheme + "://" + host_port(); }
};

result<endpoint> parse_endpoint(std::string_view text) {
    auto parsed = urls::parse_uri(text);
    if (!parsed)
        return make_error(errc::invalid_argument,
                          "invalid URL " + redact_url(text) + ": " + parsed.error().message());
    const urls::url_view& u = *parsed;
    endpoint ep;
    if (u.scheme_id() == urls::scheme::https) {
        ep.tls = true;
    } else if (u.scheme_id() != urls::scheme::http) {
        return make_error(errc::invalid_argument, "unsupported URL " + redact_url(text) +
                                                      ": only http:// and https:// are supported");
    }
    ep.scheme = ep.tls ? "https" : "http";
    if (!u.has_authority() || u.host_address().empty() || u.host_type() == urls::host_type::ipvfuture)
        return make_error(errc::invalid_argument, "invalid URL " + redact_url(text) + ": no usable host");
    ep.ipv6 = u.host_type() == urls::host_type::ipv6;
    ep.host = libregistry::detail::lower(u.host_address());
    ep.port = ep.tls ? 443 : 80;
    if (u.has_port() && !u.port().empty()) {
        ep.port = u.port_number();
        if (ep.port == 0)
            return make_error(errc::invalid_argument, "invalid URL " + redact_url(text) + ": bad port");
    }
    ep.authority = u.encoded_host_and_port();
    ep.target = u.encoded_target();
    if (!ep.target.starts_with('/')) ep.target.insert(0, "/");
    ep.url = ep.scheme + "://" + ep.authority + ep.target;
    return ep;
}

/// An HTTP proxy from HTTPS_PROXY / HTTP_PROXY.
struct proxy_endpoint {
    std::string url;
    std::string host;
    std::uint16_t port = 80;
    std::string authorization; ///< Proxy-Authorization value, when the URL has userinfo
};

result<proxy_endpoint> parse_proxy(const std::string& url) {
    auto parsed = urls::parse_uri(url);
    if (!parsed || parsed->host_address().empty())
        return make_error(errc::proxy_error, "invalid proxy URL " + redact_url(url));
    if (parsed->scheme_id() != urls::scheme::http)
        return make_error(errc::proxy_error, "unsupported proxy URL " + redact_url(url) +
                                                 ": only http:// proxies are supported");
    proxy_endpoint proxy;
    proxy.url = url;
    proxy.host = parsed->host_address();
    if (parsed->has_port() && !parsed->port().empty()) proxy.port = parsed->port_number();
    if (parsed->has_userinfo())
        proxy.authorization =
            "Basic " + libregistry::detail::encode_base64(parsed->user() + ":" + parsed->password());
    return proxy;
}

class connection;
/// Every connection alive, idle or busy, so that client::abort can close them all.
using connection_set = std::unordered_set<connection*>;

/// A plain or TLS connection with the buffer its responses are parsed from.
class connection {
public:
    // Beast reads at most the buffer's spare capacity (and never less than 512 bytes) per call: without
    // room, a blob body arrives 512 bytes per recvmsg and is re-sent in 512-byte writes.
    connection(std::unique_ptr<beast::tcp_stream> tcp, const std::shared_ptr<connection_set>& open)
        : plain_(std::move(tcp)), open_(open) {
        buffer.reserve(read_buffer_size);
        open->insert(this);
    }
    ~connection() {
        if (auto open = open_.lock()) open->erase(this);
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// Closes the socket under whatever is in progress, which then fails; see client::abort.
    void abort() {
        aborted = true;
        tcp().close();
    }

    beast::tcp_stream& tcp() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }
    tls_stream* tls() { return tls_.get(); }

    void start_tls(std::shared_ptr<ssl::context> context) {
        context_ = std::move(context);
        tls_ = std::make_unique<tls_stream>(std::move(*plain_), *context_);
        plain_.reset();
    }

    /// Each operation gets its own deadline: the idle timeout, or sooner when a body moves below the minimum
    /// rate (wait_limit).
    void arm(std::chrono::steady_clock::duration timeout) { tcp().expires_after(timeout); }
    void park() { tcp().expires_never(); }

    /// An idle connection with anything to read was closed by the server (its FIN, a TLS close_notify, a
    /// reset) or is out of step (bytes nobody asked for): no request may be written on it. Asking the socket
    /// costs no round trip, unlike finding out from a request that fails and, when it streamed its body,
    /// cannot be sent again.
    ///
    /// A TLS connection opened ahead of its first request (client::warm) is the exception for a while: a TLS
    /// 1.3 server sends its session tickets after the handshake, unasked, and they wait to be read with the
    /// first response. Should the server have closed it after all, the request fails on a reused connection
    /// before any response byte and is sent again on a new one (client::impl::exchange).
    bool closed_while_idle() {
        if (buffer.size() != 0) return true;
        if (tls_ && std::chrono::steady_clock::now() < tickets_until) return false;
        pollfd readable{tcp().socket().native_handle(), POLLIN, 0};
        return ::poll(&readable, 1, 0) != 0;
    }

    asio::awaitable<error_code> write_header(request_serializer& serializer) {
        if (tls_) {
            auto [ec, n] = co_await bhttp::async_write_header(*tls_, serializer, use_tuple);
            co_return ec;
        }
        auto [ec, n] = co_await bhttp::async_write_header(*plain_, serializer, use_tuple);
        co_return ec;
    }

    asio::awaitable<error_code> write(request_serializer& serializer) {
        if (tls_) {
            auto [ec, n] = co_await bhttp::async_write(*tls_, serializer, use_tuple);
            co_return ec;
        }
        auto [ec, n] = co_await bhttp::async_write(*plain_, serializer, use_tuple);
        co_return ec;
    }

    /// Writes some of what the serializer has: the count is what a body's rate is measured by.
    asio::awaitable<std::pair<error_code, std::size_t>> write_some(request_serializer& serializer) {
        if (tls_) {
            auto [ec, n] = co_await bhttp::async_write_some(*tls_, serializer, use_tuple);
            co_return std::pair{ec, n};
        }
        auto [ec, n] = co_await bhttp::async_write_some(*plain_, serializer, use_tuple);
        co_return std::pair{ec, n};
    }

    asio::awaitable<error_code> read_header(response_parser& parser) {
        if (tls_) {
            auto [ec, n] = co_await bhttp::async_read_header(*tls_, buffer, parser, use_tuple);
            co_return ec;
        }
        auto [ec, n] = co_await bhttp::async_read_header(*plain_, buffer, parser, use_tuple);
        co_return ec;
    }

    asio::awaitable<error_code> read_some(response_parser& parser) {
        if (tls_) {
            auto [ec, n] = co_await bhttp::async_read_some(*tls_, buffer, parser, use_tuple);
            co_return ec;
        }
        auto [ec, n] = co_await bhttp::async_read_some(*plain_, buffer, parser, use_tuple);
        co_return ec;
    }

    std::string key;
    beast::flat_buffer buffer;
    bool absolute_form = false;      ///< requests go to an HTTP proxy
    std::string proxy_authorization; ///< sent with every request when absolute_form
    bool aborted = false;            ///< closed by client::abort: its failures are cancellations
    /// Opened by client::warm and not used yet: until then, see closed_while_idle.
    std::chrono::steady_clock::time_point tickets_until{};

private:
    std::unique_ptr<beast::tcp_stream> plain_;
    std::weak_ptr<connection_set> open_;
    std::shared_ptr<ssl::context> context_; // before tls_, which must be destroyed first
    std::unique_ptr<tls_stream> tls_;
};

struct pool_state {
    std::size_t max_idle = 0;
    client::statistics stats;
    std::unordered_map<std::string, client::statistics> tallies; ///< by request::tally
    std::unordered_map<std::string, std::deque<std::unique_ptr<connection>>> idle;
    std::shared_ptr<connection_set> open = std::make_shared<connection_set>();
    std::uint64_t aborts = 0;                             ///< client::abort calls so far
    std::unordered_set<asio::steady_timer*> pauses;       ///< client::pause calls in progress
    std::optional<std::chrono::milliseconds> after_abort; ///< the timeouts client::abort imposed
    std::unordered_map<std::string, std::size_t> warming; ///< connections client::warm is opening, by key
    /// TCP connections client::preconnect opened, by host:port, not yet taken by a connect() (no TLS yet).
    std::unordered_map<std::string, std::deque<std::unique_ptr<connection>>> raw;
    std::unordered_map<std::string, std::size_t> dialling; ///< client::preconnect's, by host:port

    /// A connection client::preconnect opened to `host_port` that the server has not closed, if any.
    std::unique_ptr<connection> take_raw(const std::string& host_port) {
        auto it = raw.find(host_port);
        if (it == raw.end()) return nullptr;
        std::unique_ptr<connection> out;
        while (!out && !it->second.empty()) {
            out = std::move(it->second.front());
            it->second.pop_front();
            if (out->closed_while_idle()) out.reset();
        }
        if (it->second.empty()) raw.erase(it);
        return out;
    }

    /// A request waiting for a connection client::warm is opening (hand_over wakes it: with the connection,
    /// or empty when opening failed and the request is to connect itself).
    struct waiter {
        asio::steady_timer wake;
        std::unique_ptr<connection> conn;
    };
    std::unordered_map<std::string, std::deque<waiter*>> waiting; ///< by key, first come first served

    /// Whether a request for `key` that found no idle connection waits for one being opened ahead: while
    /// more are being opened than requests wait for.
    bool worth_waiting(const std::string& key) const {
        auto opening = warming.find(key);
        if (opening == warming.end()) return false;
        auto queue = waiting.find(key);
        return queue == waiting.end() || queue->second.size() < opening->second;
    }

    /// A connection client::warm opened (or nothing, when that failed) goes to the first request waiting for
    /// one; false when none waits.
    bool hand_over(const std::string& key, std::unique_ptr<connection>& conn) {
        auto it = waiting.find(key);
        if (it == waiting.end() || it->second.empty()) return false;
        waiter* w = it->second.front();
        it->second.pop_front();
        if (it->second.empty()) waiting.erase(it);
        if (conn) conn->tickets_until = {}; // used at once: its first answer reads the tickets
        w->conn = std::move(conn);
        w->wake.cancel();
        return true;
    }

    /// One of the connections `counts` (warming, dialling) has for `key` is done opening.
    static void opened(std::unordered_map<std::string, std::size_t>& counts, const std::string& key) {
        if (auto it = counts.find(key); it != counts.end() && --it->second == 0) counts.erase(it);
    }

    void forget(const std::string& key, waiter* w) {
        auto it = waiting.find(key);
        if (it == waiting.end()) return;
        std::erase(it->second, w);
        if (it->second.empty()) waiting.erase(it);
    }

    void count(const std::string& tally, std::uint64_t client::statistics::*counter) {
        ++(stats.*counter);
        ++(tallies[tally].*counter);
    }

    /// An idle connection to `key` that the server has not closed, if there is one; those it closed go.
    std::unique_ptr<connection> take(const std::string& key) {
        auto it = idle.find(key);
        if (it == idle.end()) return nullptr;
        auto& list = it->second;
        while (!list.empty()) {
            // The most recently used connection is the one least likely to have been closed by the server.
            auto conn = std::move(list.back());
            list.pop_back();
            const bool closed = conn->closed_while_idle();
            conn->tickets_until = {};
            if (!closed) return conn;
        }
        return nullptr;
    }

    /// Connections to `key`: idle, in use, and those client::warm is opening.
    std::size_t open_to(const std::string& key) const {
        std::size_t n = 0;
        for (const auto* conn : *open)
            n += conn->key == key ? 1 : 0;
        auto it = warming.find(key);
        return n + (it == warming.end() ? 0 : it->second);
    }

    void put(std::unique_ptr<connection> conn) {
        if (conn->aborted) return;
        conn->park();
        auto& list = idle[conn->key];
        list.push_back(std::move(conn));
        while (list.size() > max_idle)
            list.pop_front();
    }
};

bool is_redirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool is_timeout(const error_code& ec) {
    return ec == beast::error::timeout;
}

/// A reused keep-alive connection that fails this way before any response byte was closed by the server
/// while idle; the request never reached it.
bool is_stale(const error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::error::connection_aborted;
}

std::string describe(const error_code& ec) {
    if (ec == asio::error::connection_refused) return "connection refused";
    if (ec == asio::error::connection_reset) return "connection reset by the server";
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == ssl::error::stream_truncated)
        return "the server closed the connection";
    if (ec == bhttp::error::partial_message)
        return "the server closed the connection before the response was complete";
    if (ec == bhttp::error::header_limit) return "the response headers are larger than 64 KiB";
    std::string text = ec.message();
    if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
    return text;
}

error transport_error(const std::string& what, const error_code& ec, std::chrono::milliseconds idle_timeout) {
    if (is_timeout(ec))
        return make_error(errc::timeout, what + " failed: no data moved for " +
                                             std::to_string(idle_timeout.count()) + " ms");
    // Headers over the limit are a size limit like a body's: what came back was HTTP, just too much of it.
    if (ec == bhttp::error::header_limit)
        return make_error(errc::too_large, what + " failed: " + describe(ec));
    // A malformed response will not get better by retrying, unlike a dropped connection.
    const bool malformed = ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category() &&
                           ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
    return make_error(malformed ? errc::bad_response : errc::connection_failed,
                      what + " failed: " + describe(ec));
}

/// The deadline of one wait for body bytes: the idle timeout, or what is left of the body's window when that
/// comes first (then a timeout means the body moved too slowly).
struct wait_limit {
    std::chrono::steady_clock::duration timeout;
    bool rate_bound = false;
};

wait_limit limit_for(const rate_floor& floor, std::chrono::milliseconds idle_timeout) {
    const auto allowance = floor.allowance();
    if (allowance && *allowance < idle_timeout) return {*allowance, true};
    return {idle_timeout, false};
}

error too_slow(const std::string& what, const rate_floor& floor, std::string_view moved,
               const std::string& hint) {
    std::string message = what + " failed: " + floor.describe(moved);
    if (!hint.empty()) message.append("; ").append(hint);
    return make_error(errc::timeout, std::move(message));
}

error cancelled(const std::string& what) {
    return make_error(errc::cancelled, what + " was cancelled: the client closed its connections to stop");
}

error prefixed(error e, const std::string& prefix) {
    e.message.insert(0, prefix);
    return e;
}

error too_large(const std::string& what, const std::string& size, std::size_t limit, int status) {
    return make_error(errc::too_large,
                      what + " failed: the response body of " + size + " bytes is larger than the limit of " +
                          std::to_string(limit) + " bytes",
                      status);
}

class stream_impl final : public response_stream {
public:
    stream_impl(std::weak_ptr<pool_state> pool, std::unique_ptr<connection> conn,
                std::unique_ptr<response_parser> parser, std::string url, std::string what,
                std::chrono::milliseconds idle_timeout, min_transfer_rate min_rate, std::string rate_hint,
                bool reusable)
        : pool_(std::move(pool)), conn_(std::move(conn)), parser_(std::move(parser)), url_(std::move(url)),
          what_(std::move(what)), idle_timeout_(idle_timeout), floor_(min_rate),
          rate_hint_(std::move(rate_hint)), reusable_(reusable) {
        const auto& message = parser_->get();
        status_ = static_cast<int>(message.result_int());
        for (const auto& field : message)
            headers_.emplace_back(std::string(field.name_string()), std::string(field.value()));
        if (!message.chunked()) {
            const auto value = message[bhttp::field::content_length];
            std::int64_t parsed = 0;
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
            if (ec == std::errc{} && end == value.data() + value.size() && parsed >= 0)
                content_length_ = parsed;
        }
        finish_if_done();
    }

    int status() const override { return status_; }
    const fields& headers() const override { return headers_; }
    const std::string& url() const override { return url_; }
    std::int64_t content_length() const override { return content_length_; }
    const std::string& what() const { return what_; }

    asio::awaitable<result<std::size_t>> read_some(std::span<std::byte> buffer) override {
        if (parser_->is_done()) co_return std::size_t{0};
        if (!conn_)
            co_return make_error(errc::connection_failed, what_ + " failed: the connection was already lost");
        if (buffer.empty()) co_return std::size_t{0};
        for (;;) {
            auto& body = parser_->get().body();
            body.data = buffer.data();
            body.size = buffer.size();
            const auto limit = limit_for(floor_, idle_timeout_);
            conn_->arm(limit.timeout);
            const auto started = std::chrono::steady_clock::now();
            auto ec = co_await conn_->read_some(*parser_);
            const std::size_t got = buffer.size() - parser_->get().body().size;
            parser_->get().body().data = nullptr;
            const bool slow = !floor_.record(got, std::chrono::steady_clock::now() - started) ||
                              (limit.rate_bound && is_timeout(ec));
            if (ec == bhttp::error::need_buffer) ec = {};
            // Many TLS servers close without close_notify; for a body that ends at EOF that is its end.
            if (ec == ssl::error::stream_truncated && parser_->need_eof()) {
                ec = {};
                parser_->put_eof(ec);
            }
            if (ec || (slow && !parser_->is_done())) {
                const bool aborted = conn_->aborted;
                conn_.reset();
                if (aborted) co_return cancelled(what_);
                if (slow) co_return too_slow(what_, floor_, "the body arrived", rate_hint_);
                co_return transport_error(what_, ec, idle_timeout_);
            }
            finish_if_done();
            if (got > 0 || parser_->is_done()) co_return got;
        }
    }

    /// Reads and drops the body of a response nobody wants (a redirect), so its connection can be reused;
    /// a body over `limit` bytes is not worth reading, and the connection is closed instead.
    asio::awaitable<void> discard(std::size_t limit) {
        std::array<std::byte, 16 * 1024> scratch;
        std::size_t total = 0;
        const std::span<std::byte> window(scratch);
        while (conn_ && !parser_->is_done() && total <= limit) {
            auto read = co_await read_some(window);
            if (!read || *read == 0) break;
            total += *read;
        }
        conn_.reset();
    }

private:
    void finish_if_done() {
        if (!conn_ || !parser_->is_done()) return;
        auto pool = pool_.lock();
        if (pool && reusable_ && parser_->keep_alive() && pool->max_idle > 0) pool->put(std::move(conn_));
        conn_.reset();
    }

    std::weak_ptr<pool_state> pool_;
    std::unique_ptr<connection> conn_;
    std::unique_ptr<response_parser> parser_;
    std::string url_;
    std::string what_;
    std::chrono::milliseconds idle_timeout_;
    rate_floor floor_;
    std::string rate_hint_;
    bool reusable_;
    int status_ = 0;
    fields headers_;
    std::int64_t content_length_ = -1;
};

/// The outcome of one request on one connection, up to the response headers.
struct attempt {
    std::unique_ptr<response_parser> parser; ///< set on success
    error_code ec;                           ///< a transport failure
    std::optional<error> failure;            ///< a failure that is not the transport's (the body source)
    bool body_pulled = false;                ///< the body source was read: the request cannot be replayed
    bool early_response = false;             ///< the server answered before taking the whole body
};

} // namespace

struct client::impl {
    asio::any_io_executor executor;
    client_options options;
    std::shared_ptr<pool_state> pool = std::make_shared<pool_state>();
    detail::tls_contexts tls;

    host_settings settings_for(const endpoint& ep) const {
        return options.settings_for ? options.settings_for(ep.authority) : host_settings{};
    }

    std::chrono::milliseconds idle_timeout() const {
        return pool->after_abort ? std::min(*pool->after_abort, options.idle_timeout) : options.idle_timeout;
    }
    std::chrono::milliseconds connect_timeout() const {
        return pool->after_abort ? std::min(*pool->after_abort, options.connect_timeout)
                                 : options.connect_timeout;
    }

    /// How requests to an endpoint travel, and the pool key of their connections.
    struct route {
        host_settings settings;
        std::string proxy; ///< "" for a direct connection
        std::string key;
    };
    result<route> route_to(const endpoint& ep, const std::string& what) const {
        route r{settings_for(ep), options.proxy.proxy_for(ep.scheme, ep.host, ep.port), {}};
        if (!ep.tls && !r.settings.insecure && !is_loopback_host(ep.authority))
            return make_error(
                errc::insecure_refused,
                what +
                    " refused: plain HTTP is only used for loopback hosts and registries marked "
                    "insecure; use https:// or mark " +
                    ep.authority + " as insecure");
        r.key = ep.origin() + (r.proxy.empty() ? "" : " via " + r.proxy);
        return r;
    }

    /// A TCP connection to host:port (`via_proxy`: a proxy's), counted under `tally`; failures say `what`
    /// failed and name `dialled`.
    asio::awaitable<result<std::unique_ptr<connection>>> dial(std::string host, std::uint16_t port,
                                                              std::string tally, std::string what,
                                                              bool via_proxy, std::string dialled);

    /// One connection of client::preconnect: dialled, then kept for the next connect() to its host.
    static asio::awaitable<void> preconnect_one(std::shared_ptr<impl> self, std::string host,
                                                std::uint16_t port, std::string host_port, std::string tally);

    /// One connection of client::warm: opened, then idle in the pool (or, failing, only described).
    static asio::awaitable<void> warm_one(std::shared_ptr<impl> self, endpoint ep, route r,
                                          std::string tally);

    asio::awaitable<result<std::unique_ptr<stream_impl>>> open(request req);
    asio::awaitable<result<std::unique_ptr<stream_impl>>> exchange(const request* req, endpoint ep);
    asio::awaitable<attempt> transact(connection* conn, const request* req, endpoint ep, std::string tally);
    asio::awaitable<error_code> write_body(connection* conn, request_serializer& serializer,
                                           rate_floor& floor, bool& slow);
    asio::awaitable<result<std::unique_ptr<connection>>> connect(endpoint ep, std::string proxy,
                                                                 host_settings settings, std::string what,
                                                                 std::string key, std::string tally);
    asio::awaitable<result<void>> tunnel(connection* conn, endpoint ep, proxy_endpoint proxy,
                                         std::string what);
};

asio::awaitable<result<std::unique_ptr<stream_impl>>> client::impl::open(request req) {
    const bool follow =
        req.follow_redirects && (req.method == bhttp::verb::get || req.method == bhttp::verb::head);
    const std::string first_what = std::string(bhttp::to_string(req.method)) + " " + redact_url(req.url);
    std::string url = req.url;
    for (int redirects = 0;; ++redirects) {
        auto ep = parse_endpoint(url);
        if (!ep) co_return prefixed(ep.error(), first_what + " failed: ");
        auto opened = co_await exchange(&req, *ep);
        if (!opened) co_return opened.error();
        stream_impl& stream = **opened;
        if (!follow || !is_redirect(stream.status())) co_return std::move(opened);
        const std::string location(stream.header("Location"));
        if (location.empty()) co_return std::move(opened);
        if (redirects >= options.max_redirects)
            co_return make_error(errc::too_many_redirects,
                                 first_what + " failed: more than " + std::to_string(options.max_redirects) +
                                     " redirects (the last one to " + redact_url(location) + ")");

        urls::url next;
        auto reference = urls::parse_uri_reference(location);
        auto base = urls::parse_uri(ep->url);
        if (!reference || !base || !urls::resolve(*base, *reference, next))
            co_return make_error(errc::bad_response,
                                 stream.what() + " failed: the server redirected to an invalid Location: " +
                                     redact_url(location));
        next.remove_fragment();
        auto next_ep = parse_endpoint(next.buffer());
        if (!next_ep)
            co_return prefixed(next_ep.error(), stream.what() + " failed: the server redirected to an ");
        // Credentials for one origin must not leak to another, e.g. a registry redirecting to blob storage.
        if (next_ep->origin() != ep->origin())
            std::erase_if(req.headers,
                          [](const auto& header) { return beast::iequals(header.first, "Authorization"); });
        co_await stream.discard(io_chunk);
        url = next.buffer();
    }
}

namespace {

// For client_options::debug: what was asked and what came back, headers redacted (redact_header's
// allow-list), no bodies. The caller scrubs the known secrets from the whole text: a reason phrase may echo
// them too.
std::string describe_exchange(const request& req, const endpoint& ep, const attempt& sent, bool reused,
                              const std::string& proxy) {
    std::string out = "> ";
    out.append(bhttp::to_string(req.method)).append(" ").append(redact_url(ep.url));
    out.append(reused ? " (kept-alive connection" : " (new connection");
    if (!proxy.empty()) out.append(" via ").append(redact_url(proxy));
    out.append(")");
    for (const auto& [name, value] : req.headers)
        out.append("\n>   ").append(name).append(": ").append(redact_header(name, value));
    if (req.source != nullptr)
        out.append("\n>   (streamed body, ")
            .append(req.content_length >= 0 ? std::to_string(req.content_length) + " bytes)" : "chunked)");
    else if (!req.body.empty())
        out.append("\n>   (body, ").append(std::to_string(req.body.size())).append(" bytes)");
    if (sent.parser) {
        const auto& head = sent.parser->get();
        out.append("\n< ").append(std::to_string(head.result_int())).append(" ").append(head.reason());
        for (const auto& field : head)
            out.append("\n<   ")
                .append(field.name_string())
                .append(": ")
                .append(redact_header(field.name_string(), field.value()));
    } else if (sent.failure) {
        out.append("\n< failed: ").append(sent.failure->message);
    } else {
        out.append("\n< failed: ").append(describe(sent.ec));
    }
    return out;
}

} // namespace

asio::awaitable<result<std::unique_ptr<stream_impl>>> client::impl::exchange(const request* req,
                                                                             endpoint ep) {
    const std::string what = std::string(bhttp::to_string(req->method)) + " " + redact_url(ep.url);
    auto routed = route_to(ep, what);
    if (!routed) co_return routed.error();
    const auto& [settings, proxy, key] = *routed;
    const std::string tally = req->tally.empty() ? ep.host_port() : req->tally;
    // A request under way when abort() is called fails as cancelled, whatever step it was at.
    const std::uint64_t generation = pool->aborts;

    for (int round = 0; round < 2; ++round) {
        std::unique_ptr<connection> conn = round == 0 ? pool->take(key) : nullptr;
        if (!conn && round == 0 && pool->worth_waiting(key)) {
            // A connection is being opened ahead (client::warm): take it rather than open one more.
            pool_state::waiter w{asio::steady_timer(executor, asio::steady_timer::time_point::max()),
                                 nullptr};
            pool->waiting[key].push_back(&w);
            co_await w.wake.async_wait(use_tuple);
            pool->forget(key, &w);
            if (pool->aborts != generation) co_return cancelled(what);
            conn = std::move(w.conn);
        }
        const bool reused = conn != nullptr;
        if (!conn) {
            auto made = co_await connect(ep, proxy, settings, what, key, tally);
            if (pool->aborts != generation) co_return cancelled(what);
            if (!made) {
                if (options.debug)
                    options.debug(
                        scrub_secrets("> " + what + " (new connection)\n< failed: " + made.error().message));
                co_return made.error();
            }
            conn = std::move(*made);
            conn->key = key;
        }
        attempt sent = co_await transact(conn.get(), req, ep, tally);
        if (options.debug) options.debug(scrub_secrets(describe_exchange(*req, ep, sent, reused, proxy)));
        if (conn->aborted || pool->aborts != generation) co_return cancelled(what);
        if (sent.failure) co_return *sent.failure;
        if (sent.ec) {
            // A PATCH appends to an upload session, so it is never replayed: the server may have taken it
            // before the connection died. Its sender asks the session where it stands instead.
            const bool replayable = !sent.body_pulled && req->method != bhttp::verb::patch;
            if (reused && replayable && is_stale(sent.ec)) continue;
            co_return transport_error(what, sent.ec, idle_timeout());
        }
        co_return std::make_unique<stream_impl>(pool, std::move(conn), std::move(sent.parser), ep.url, what,
                                                idle_timeout(), options.min_rate, options.min_rate_hint,
                                                !sent.early_response);
    }
    co_return make_error(errc::connection_failed, what + " failed: the server keeps closing the connection");
}

asio::awaitable<attempt> client::impl::transact(connection* conn, const request* req, endpoint ep,
                                                std::string tally) {
    const std::string what = std::string(bhttp::to_string(req->method)) + " " + redact_url(ep.url);
    request_message message{req->method, conn->absolute_form ? ep.url : ep.target, 11};
    message.set(bhttp::field::host, ep.authority);
    bool has_user_agent = false;
    for (const auto& [name, value] : req->headers) {
        const auto known = bhttp::string_to_field(name);
        if (known == bhttp::field::host || known == bhttp::field::content_length ||
            known == bhttp::field::transfer_encoding || known == bhttp::field::connection)
            continue;
        has_user_agent = has_user_agent || known == bhttp::field::user_agent;
        message.insert(name, value);
    }
    if (!has_user_agent && !options.user_agent.empty())
        message.set(bhttp::field::user_agent, options.user_agent);
    if (!conn->proxy_authorization.empty())
        message.set(bhttp::field::proxy_authorization, conn->proxy_authorization);
    const bool sends_body = req->source != nullptr || !req->body.empty() ||
                            req->method == bhttp::verb::post || req->method == bhttp::verb::put ||
                            req->method == bhttp::verb::patch;
    if (req->source != nullptr && req->content_length < 0)
        message.chunked(true);
    else if (sends_body)
        message.content_length(req->source != nullptr ? static_cast<std::uint64_t>(req->content_length)
                                                      : req->body.size());
    message.body().data = nullptr;
    message.body().more = true;

    attempt out;
    request_serializer serializer{message};
    pool->count(tally, &statistics::requests);
    conn->arm(idle_timeout());
    out.ec = co_await conn->write_header(serializer);
    if (out.ec) co_return out;

    std::size_t offset = 0;
    std::int64_t streamed = 0;
    rate_floor floor(options.min_rate);
    for (;;) {
        std::span<const std::byte> piece;
        if (req->source != nullptr) {
            out.body_pulled = true;
            auto chunk = co_await req->source->next();
            if (!chunk) {
                error failure = chunk.error();
                failure.message = what + " failed while reading the request body: " + failure.message;
                out.failure = std::move(failure);
                co_return out;
            }
            piece = *chunk;
            streamed += static_cast<std::int64_t>(piece.size());
            const std::int64_t declared = req->content_length;
            if (declared >= 0 && (streamed > declared || (piece.empty() && streamed < declared))) {
                out.failure = make_error(
                    errc::invalid_argument,
                    what + " failed: the request body has " +
                        (piece.empty() ? std::to_string(streamed) : "more than " + std::to_string(declared)) +
                        " bytes, not the " + std::to_string(declared) + " declared");
                co_return out;
            }
        } else {
            const auto all = std::as_bytes(std::span<const char>(req->body));
            piece = all.subspan(offset, std::min(io_chunk, all.size() - offset));
            offset += piece.size();
        }
        auto& body = message.body();
        body.data = piece.empty() ? nullptr : const_cast<std::byte*>(piece.data());
        body.size = piece.size();
        body.more = !piece.empty();
        bool slow = false;
        out.ec = co_await write_body(conn, serializer, floor, slow);
        if (slow) {
            out.failure = too_slow(what, floor, "the server took the body", options.min_rate_hint);
            co_return out;
        }
        if (out.ec == bhttp::error::need_buffer) continue;
        if (out.ec || serializer.is_done()) break;
    }
    if (is_timeout(out.ec)) co_return out;

    for (;;) {
        auto parser = std::make_unique<response_parser>();
        parser->body_limit(boost::none);
        parser->header_limit(header_limit);
        if (req->method == bhttp::verb::head) parser->skip(true);
        conn->arm(idle_timeout());
        auto ec = co_await conn->read_header(*parser);
        if (ec) {
            // A server that rejects an upload (401, 413) may answer and close before taking the whole body;
            // its answer says more than the failed write, so the write error only stands when none came.
            if (!out.ec) out.ec = ec;
            co_return out;
        }
        const unsigned status = parser->get().result_int();
        // Interim 1xx responses (RFC 9110 section 15.2) precede the real one; 101 would switch protocols.
        if (status >= 100 && status < 200 && status != 101) continue;
        out.early_response = static_cast<bool>(out.ec);
        out.ec = {};
        out.parser = std::move(parser);
        co_return out;
    }
}

/// Writes the body piece the serializer holds (need_buffer once it is all out, or the end of the message),
/// one write_some at a time, each with its own deadline; `slow` when the body moved below the minimum rate.
asio::awaitable<error_code> client::impl::write_body(connection* conn, request_serializer& serializer,
                                                     rate_floor& floor, bool& slow) {
    for (;;) {
        const auto limit = limit_for(floor, idle_timeout());
        conn->arm(limit.timeout);
        const auto started = std::chrono::steady_clock::now();
        auto [ec, n] = co_await conn->write_some(serializer);
        if (ec == bhttp::error::need_buffer) co_return ec;
        slow = !floor.record(n, std::chrono::steady_clock::now() - started) ||
               (limit.rate_bound && is_timeout(ec));
        if (slow || ec || serializer.is_done()) co_return ec;
    }
}

asio::awaitable<result<std::unique_ptr<connection>>> client::impl::connect(endpoint ep, std::string proxy,
                                                                           host_settings settings,
                                                                           std::string what, std::string key,
                                                                           std::string tally) {
    std::optional<proxy_endpoint> via;
    std::string dial_host = ep.host;
    std::uint16_t dial_port = ep.port;
    if (!proxy.empty()) {
        auto parsed = parse_proxy(proxy);
        if (!parsed) co_return make_error(errc::proxy_error, what + " failed: " + parsed.error().message);
        via = std::move(*parsed);
        dial_host = via->host;
        dial_port = via->port;
    }
    const std::string dialled = via ? "proxy " + redact_url(proxy) : ep.host_port();

    // A TCP connection client::preconnect opened to the host (never one through a proxy) saves the dial.
    auto conn = via ? nullptr : pool->take_raw(ep.host_port());
    if (!conn) {
        auto dialled_conn = co_await dial(dial_host, dial_port, tally, what, via.has_value(), dialled);
        if (!dialled_conn) co_return dialled_conn.error();
        conn = std::move(*dialled_conn);
    }

    if (via && !ep.tls) {
        conn->absolute_form = true;
        conn->proxy_authorization = via->authorization;
    }
    if (via && ep.tls)
        if (auto tunnelled = co_await tunnel(conn.get(), ep, *via, what); !tunnelled)
            co_return tunnelled.error();
    if (!ep.tls) co_return conn;

    auto context = tls.get(settings);
    if (!context) co_return make_error(errc::tls_error, what + " failed: " + context.error().message);
    conn->start_tls(*context);
    SSL* native = conn->tls()->native_handle();
    if (auto prepared = detail::prepare_tls_connection(native, ep.host, settings.tls_verify); !prepared)
        co_return make_error(errc::tls_error, what + " failed: " + prepared.error().message);
    tls.resume(native, settings, key);
    conn->arm(connect_timeout());
    auto [handshake_ec] = co_await conn->tls()->async_handshake(ssl::stream_base::client, use_tuple);
    if (handshake_ec) {
        tls.forget(settings, key);
        if (is_timeout(handshake_ec))
            co_return make_error(errc::timeout, what + " failed: TLS handshake with " + ep.host_port() +
                                                    " timed out after " +
                                                    std::to_string(connect_timeout().count()) + " ms");
        co_return make_error(
            errc::tls_error,
            what + ": TLS handshake with " + ep.host_port() +
                " failed: " + detail::describe_handshake_failure(conn->tls()->native_handle(), handshake_ec));
    }
    pool->count(tally,
                detail::handshake_resumed(native) ? &statistics::tls_resumed : &statistics::tls_handshakes);
    co_return conn;
}

asio::awaitable<result<void>> client::impl::tunnel(connection* conn, endpoint ep, proxy_endpoint proxy,
                                                   std::string what) {
    const std::string failed = what + " failed: proxy " + redact_url(proxy.url);
    request_message message{bhttp::verb::connect, ep.host_port(), 11};
    message.set(bhttp::field::host, ep.host_port());
    if (!options.user_agent.empty()) message.set(bhttp::field::user_agent, options.user_agent);
    if (!proxy.authorization.empty()) message.set(bhttp::field::proxy_authorization, proxy.authorization);
    message.body().data = nullptr;
    message.body().more = false;
    request_serializer serializer{message};
    conn->arm(connect_timeout());
    if (auto ec = co_await conn->write(serializer); ec)
        co_return make_error(errc::proxy_error,
                             failed + " did not take the CONNECT request: " + describe(ec));

    // A 2xx answer to CONNECT has no body (RFC 9110 section 9.3.6), whatever its headers say.
    response_parser parser;
    parser.skip(true);
    conn->arm(connect_timeout());
    if (auto ec = co_await conn->read_header(parser); ec)
        co_return make_error(is_timeout(ec) ? errc::timeout : errc::proxy_error,
                             failed + " did not answer CONNECT " + ep.host_port() + ": " + describe(ec));
    const unsigned status = parser.get().result_int();
    if (status < 200 || status > 299) {
        std::string message_text = failed + " refused CONNECT " + ep.host_port() + " with " +
                                   std::to_string(status) + " " + std::string(parser.get().reason());
        if (status == 407)
            message_text += proxy.authorization.empty()
                                ? "; put credentials in the proxy URL (http://user:password@host:port)"
                                : "; check the credentials in the proxy URL";
        co_return make_error(errc::proxy_error, message_text);
    }
    if (conn->buffer.size() != 0)
        co_return make_error(errc::proxy_error,
                             failed + " sent data before the tunnel to " + ep.host_port() + " was open");
    co_return result<void>{};
}

asio::awaitable<result<std::unique_ptr<connection>>> client::impl::dial(std::string host, std::uint16_t port,
                                                                        std::string tally, std::string what,
                                                                        bool via_proxy, std::string dialled) {
    const errc dial_failure = via_proxy ? errc::proxy_error : errc::connection_failed;
    tcp::resolver resolver(executor);
    auto [resolve_ec, endpoints] = co_await resolver.async_resolve(host, std::to_string(port), use_tuple);
    if (resolve_ec)
        co_return make_error(dial_failure, what + " failed: cannot resolve " +
                                               (via_proxy ? "proxy host " : "host ") + host + ": " +
                                               describe(resolve_ec));
    // The connection exists (and abort() can close it) from before the dial on.
    auto conn = std::make_unique<connection>(std::make_unique<beast::tcp_stream>(executor), pool->open);
    conn->arm(connect_timeout());
    auto [connect_ec, peer] = co_await conn->tcp().async_connect(endpoints, use_tuple);
    if (connect_ec) {
        if (is_timeout(connect_ec))
            co_return make_error(errc::timeout, what + " failed: connecting to " + dialled +
                                                    " timed out after " +
                                                    std::to_string(connect_timeout().count()) + " ms");
        co_return make_error(dial_failure,
                             what + " failed: " + (via_proxy ? "cannot connect to " + dialled + ": " : "") +
                                 describe(connect_ec));
    }
    pool->count(tally, &statistics::connections_opened);
    error_code ignored;
    conn->tcp().socket().set_option(tcp::no_delay(true), ignored);
    co_return conn;
}

asio::awaitable<void> client::impl::preconnect_one(std::shared_ptr<impl> self, std::string host,
                                                   std::uint16_t port, std::string host_port,
                                                   std::string tally) {
    const std::uint64_t generation = self->pool->aborts;
    const std::string what = "connect " + host_port + " (ahead of the ping)";
    auto made = co_await self->dial(host, port, tally, what, false, host_port);
    auto& pool = *self->pool;
    pool_state::opened(pool.dialling, host_port);
    if (self->options.debug)
        self->options.debug(
            scrub_secrets("> " + what + "\n< " + (made ? "open" : "failed: " + made.error().message)));
    if (!made || pool.aborts != generation) co_return;
    (*made)->park();
    pool.raw[host_port].push_back(std::move(*made));
}

asio::awaitable<void> client::impl::warm_one(std::shared_ptr<impl> self, endpoint ep, route r,
                                             std::string tally) {
    const std::uint64_t generation = self->pool->aborts;
    const std::string what = "connect " + redact_url(ep.origin()) + " (ahead of requests)";
    auto made = co_await self->connect(ep, r.proxy, r.settings, what, r.key, tally);
    auto& pool = *self->pool;
    pool_state::opened(pool.warming, r.key);
    if (self->options.debug)
        self->options.debug(
            scrub_secrets("> " + what + "\n< " + (made ? "open" : "failed: " + made.error().message)));
    std::unique_ptr<connection> conn;
    if (made && pool.aborts == generation) {
        conn = std::move(*made);
        conn->key = r.key;
        conn->tickets_until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    }
    // A failure wakes a waiting request too: it connects itself.
    if (!pool.hand_over(r.key, conn) && conn) pool.put(std::move(conn));
}

client::client(asio::any_io_executor executor, client_options options) : impl_(std::make_shared<impl>()) {
    impl_->executor = std::move(executor);
    impl_->options = std::move(options);
    impl_->pool->max_idle = impl_->options.max_idle_per_host;
}

client::~client() = default;

asio::awaitable<result<response>> client::send(request req, std::size_t body_limit) {
    auto opened = co_await impl_->open(std::move(req));
    if (!opened) co_return opened.error();
    stream_impl& stream = **opened;
    response out;
    out.status = stream.status();
    out.headers = stream.headers();
    out.url = stream.url();

    const std::int64_t length = stream.content_length();
    if (length > 0 && static_cast<std::uint64_t>(length) > body_limit)
        co_return too_large(stream.what(), std::to_string(length), body_limit, out.status);
    if (length > 0) out.body.reserve(static_cast<std::size_t>(length));

    for (;;) {
        // One byte past the limit tells a body of exactly `body_limit` bytes from a larger one.
        const std::size_t remaining = body_limit - out.body.size();
        const std::size_t room = remaining >= io_chunk ? io_chunk : remaining + 1;
        const std::size_t old_size = out.body.size();
        out.body.resize(old_size + room);
        const std::span<std::byte> window(reinterpret_cast<std::byte*>(out.body.data() + old_size), room);
        auto read = co_await stream.read_some(window);
        if (!read) co_return read.error();
        out.body.resize(old_size + *read);
        if (*read == 0) break;
        if (out.body.size() > body_limit)
            co_return too_large(stream.what(), "more than " + std::to_string(body_limit), body_limit,
                                out.status);
    }
    co_return out;
}

asio::awaitable<result<std::unique_ptr<response_stream>>> client::open(request req) {
    auto opened = co_await impl_->open(std::move(req));
    if (!opened) co_return opened.error();
    std::unique_ptr<response_stream> stream = std::move(*opened);
    co_return stream;
}

void client::warm(const std::string& url, std::size_t count, const std::string& tally) {
    auto ep = parse_endpoint(url);
    if (!ep || impl_->pool->max_idle == 0) return;
    auto routed = impl_->route_to(*ep, "connect " + redact_url(ep->origin()));
    if (!routed) return;
    auto& pool = *impl_->pool;
    for (std::size_t n = pool.open_to(routed->key); n < count; ++n) {
        ++pool.warming[routed->key];
        asio::co_spawn(impl_->executor,
                       impl::warm_one(impl_, *ep, *routed, tally.empty() ? ep->host_port() : tally),
                       asio::detached);
    }
}

void client::preconnect(const std::string& url, std::size_t count, const std::string& tally) {
    auto ep = parse_endpoint(url);
    if (!ep || impl_->pool->max_idle == 0) return;
    // Through a proxy the connection goes to the proxy, and how depends on the scheme: not ahead of it.
    if (!impl_->options.proxy.proxy_for("https", ep->host, ep->port).empty() ||
        !impl_->options.proxy.proxy_for("http", ep->host, ep->port).empty())
        return;
    auto& pool = *impl_->pool;
    const std::string host_port = ep->host_port();
    std::size_t have = 0;
    if (auto it = pool.dialling.find(host_port); it != pool.dialling.end()) have += it->second;
    if (auto it = pool.raw.find(host_port); it != pool.raw.end()) have += it->second.size();
    for (std::size_t n = have; n < count; ++n) {
        ++pool.dialling[host_port];
        asio::co_spawn(
            impl_->executor,
            impl::preconnect_one(impl_, ep->host, ep->port, host_port, tally.empty() ? host_port : tally),
            asio::detached);
    }
}

void client::abort(std::chrono::milliseconds timeout) {
    auto& pool = *impl_->pool;
    ++pool.aborts;
    pool.after_abort = timeout;
    pool.idle.clear();
    pool.raw.clear();
    // A copy: closing only queues the failures of what is in progress, but let nothing change the set
    // under the loop.
    const std::vector<connection*> open(pool.open->begin(), pool.open->end());
    for (auto* conn : open)
        conn->abort();
    for (auto* timer : pool.pauses)
        timer->cancel();
    for (auto& [key, queue] : pool.waiting)
        for (auto* w : queue)
            w->wake.cancel();
}

asio::awaitable<void> client::pause(std::chrono::milliseconds delay) {
    auto pool = impl_->pool;
    if (pool->aborts > 0) co_return;
    asio::steady_timer timer(impl_->executor, delay);
    pool->pauses.insert(&timer);
    co_await timer.async_wait(use_tuple);
    pool->pauses.erase(&timer);
}

const client_options& client::options() const noexcept {
    return impl_->options;
}

client::statistics client::stats() const noexcept {
    return impl_->pool->stats;
}

client::statistics client::stats(std::string_view tally) const {
    const auto& tallies = impl_->pool->tallies;
    auto it = tallies.find(std::string(tally));
    return it == tallies.end() ? statistics{} : it->second;
}

} // namespace libregistry::http
