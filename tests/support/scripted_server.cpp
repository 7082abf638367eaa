#include "scripted_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <system_error>

namespace libregistry::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
namespace urls = boost::urls;
using tcp = boost::asio::ip::tcp;

namespace {

const auto use_tuple = asio::as_tuple(asio::use_awaitable);

} // namespace

std::string recorded::path() const {
    return target.substr(0, target.find('?'));
}

std::vector<std::string> recorded::query(std::string_view name) const {
    std::vector<std::string> out;
    auto parsed = urls::parse_uri_reference(target);
    if (!parsed) return out;
    for (const auto& param : parsed->params())
        if (param.key == name) out.push_back(param.value);
    return out;
}

std::string response_text(int status, std::string_view body, const http::fields& headers) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " +
                      std::string(bhttp::obsolete_reason(static_cast<bhttp::status>(status))) + "\r\n";
    for (const auto& [name, value] : headers)
        out += name + ": " + value + "\r\n";
    if (http::find_header(headers, "Content-Length").empty())
        out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    out += "\r\n";
    out += body;
    return out;
}

std::string chunked_text(std::string_view body, std::size_t chunk) {
    std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    char size[32];
    for (std::size_t at = 0; at < body.size(); at += chunk) {
        const auto piece = body.substr(at, chunk);
        std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
        out += size;
        out += piece;
        out += "\r\n";
    }
    return out + "0\r\n\r\n";
}

reply respond(int status, std::string_view body, const http::fields& headers) {
    return reply{response_text(status, body, headers)};
}

reply ok(std::string_view body, const http::fields& headers) {
    return respond(200, body, headers);
}

reply redirect(int status, std::string location) {
    return respond(status, "moved", {{"Location", std::move(location)}});
}

reply truncated(int status, std::string_view body, std::size_t sent, const http::fields& headers) {
    auto announced = headers;
    announced.emplace_back("Content-Length", std::to_string(body.size()));
    return reply{response_text(status, body.substr(0, sent), announced), true};
}

reply hang_up() {
    return reply{"", true};
}

reply trickling(int status, std::string_view body, std::size_t at_once, std::size_t piece,
                std::chrono::milliseconds every, const http::fields& headers) {
    auto announced = headers;
    announced.emplace_back("Content-Length", std::to_string(body.size()));
    reply out;
    out.raw = response_text(status, body.substr(0, at_once), announced);
    out.trickle = std::string(body.substr(std::min(at_once, body.size())));
    out.trickle_piece = piece;
    out.trickle_every = every;
    return out;
}

std::string pattern(std::size_t size) {
    std::string out(size, '\0');
    for (std::size_t i = 0; i < size; ++i)
        out[i] = static_cast<char>('a' + i % 23);
    return out;
}

// --- the server ------------------------------------------------------------------------------------------

std::shared_ptr<scripted_server> scripted_server::start(asio::io_context& io, handler handle,
                                                        server_options options) {
    auto server =
        std::shared_ptr<scripted_server>(new scripted_server(io, std::move(handle), std::move(options)));
    asio::co_spawn(io, accept_loop(server), asio::detached);
    return server;
}

scripted_server::scripted_server(asio::io_context& io, handler handle, server_options options)
    : acceptor_(io, tcp::endpoint(options.address, 0)), handle_(std::move(handle)),
      options_(std::move(options)) {
    port_ = acceptor_.local_endpoint().port();
    const auto& address = options_.address;
    host_ = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
}

std::string scripted_server::host_port() const {
    return host_ + ":" + std::to_string(port_);
}

std::string scripted_server::url(std::string_view path) const {
    const bool https = options_.tls && !options_.connect_proxy;
    return std::string(https ? "https" : "http") + "://" + host_port() + std::string(path);
}

int scripted_server::count(std::string_view method, std::string_view path) const {
    int n = 0;
    for (const auto& r : requests)
        if (r.method == method && r.path() == path) ++n;
    return n;
}

asio::awaitable<void> scripted_server::accept_loop(std::shared_ptr<scripted_server> self) {
    for (;;) {
        auto [ec, socket] = co_await self->acceptor_.async_accept(use_tuple);
        if (ec) co_return;
        const int id = ++self->connections;
        asio::co_spawn(self->acceptor_.get_executor(), serve_socket(self, std::move(socket), id),
                       asio::detached);
    }
}

asio::awaitable<void> scripted_server::serve_socket(std::shared_ptr<scripted_server> self, tcp::socket socket,
                                                    int id) {
    beast::flat_buffer buffer;
    bool first = true;
    if (self->options_.connect_proxy) {
        const bool open = co_await self->serve_one(&socket, &buffer, id, false, true);
        if (!open || self->requests.back().method != "CONNECT") co_return;
        first = false;
    }
    if (!self->options_.tls) {
        while (co_await self->serve_one(&socket, &buffer, id, false, first))
            first = false;
        co_return;
    }
    beast::ssl_stream<tcp::socket> stream(std::move(socket), *self->options_.tls);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
    if (ec) co_return;
    while (co_await self->serve_one(&stream, &buffer, id, true, false)) {
    }
}

template <class Stream>
asio::awaitable<bool> scripted_server::serve_one(Stream* stream, beast::flat_buffer* buffer, int id, bool tls,
                                                 bool first) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    auto [ec, n] = co_await bhttp::async_read_header(*stream, *buffer, parser, use_tuple);
    if (ec) {
        const bool garbage = ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
                             ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
        if (first && garbage) ++not_http;
        co_return false;
    }
    recorded request;
    request.connection = id;
    request.tls = tls;
    request.method = parser.get().method_string();
    request.target = parser.get().target();
    for (const auto& field : parser.get())
        request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));

    std::optional<std::size_t> cut;
    if (options_.cut_body) cut = options_.cut_body(request);
    if (cut) {
        // Take what is buffered, read up to the cut, and drop the connection with the rest unread.
        std::string body;
        const auto buffered = std::min(*cut, buffer->size());
        body.append(static_cast<const char*>(buffer->data().data()), buffered);
        buffer->consume(buffered);
        if (body.size() < *cut) {
            const auto have = body.size();
            body.resize(*cut);
            const auto rest = asio::buffer(body.data() + have, *cut - have);
            auto [read_ec, got] = co_await asio::async_read(*stream, rest, use_tuple);
            body.resize(have + got);
        }
        request.body = std::move(body);
        request.broken = true;
        requests.push_back(request);
        handle_(request);
        beast::error_code ignored;
        beast::get_lowest_layer(*stream).close(ignored);
        co_return false;
    }

    auto [body_ec, body_n] = co_await bhttp::async_read(*stream, *buffer, parser, use_tuple);
    if (body_ec) co_return false;
    request.body = parser.get().body();
    requests.push_back(request);

    const reply answer = handle_(request);
    if (answer.stall.count() > 0) {
        asio::steady_timer timer(acceptor_.get_executor(), answer.stall);
        co_await timer.async_wait(use_tuple);
    }
    const auto bytes = asio::buffer(answer.raw);
    auto [write_ec, written] = co_await asio::async_write(*stream, bytes, use_tuple);
    const std::size_t piece = std::max<std::size_t>(answer.trickle_piece, 1);
    for (std::size_t at = 0; !write_ec && at < answer.trickle.size(); at += piece) {
        asio::steady_timer timer(acceptor_.get_executor(), answer.trickle_every);
        co_await timer.async_wait(use_tuple);
        const auto next =
            asio::buffer(answer.trickle.data() + at, std::min(piece, answer.trickle.size() - at));
        auto [trickle_ec, trickled] = co_await asio::async_write(*stream, next, use_tuple);
        write_ec = trickle_ec;
    }
    if (write_ec || answer.close) {
        beast::error_code ignored;
        beast::get_lowest_layer(*stream).close(ignored);
        co_return false;
    }
    co_return true;
}

// --- running coroutines ----------------------------------------------------------------------------------

void run(asio::io_context& io, asio::awaitable<void> test, std::chrono::milliseconds limit) {
    bool done = false;
    std::exception_ptr failure;
    io.restart();
    asio::co_spawn(io, std::move(test), [&](std::exception_ptr e) {
        done = true;
        failure = e;
        io.stop();
    });
    io.run_for(limit);
    if (!done)
        throw std::runtime_error("the test coroutine did not finish within " + std::to_string(limit.count()) +
                                 " ms");
    if (failure) std::rethrow_exception(failure);
}

namespace {

struct join_state {
    explicit join_state(asio::any_io_executor executor)
        : timer(executor, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    std::size_t remaining = 0;
    std::exception_ptr failure;
};

} // namespace

asio::awaitable<void> run_concurrently(std::vector<asio::awaitable<void>> tasks) {
    const auto executor = co_await asio::this_coro::executor;
    auto state = std::make_shared<join_state>(executor);
    state->remaining = tasks.size();
    for (auto& task : tasks) {
        auto finished = [state](std::exception_ptr e) {
            if (e && !state->failure) state->failure = e;
            if (--state->remaining == 0) state->timer.cancel();
        };
        asio::co_spawn(executor, std::move(task), finished);
    }
    while (state->remaining > 0)
        co_await state->timer.async_wait(use_tuple);
    if (state->failure) std::rethrow_exception(state->failure);
}

http::client_options test_client_options() {
    http::client_options options;
    options.user_agent = "syncer-test/1";
    options.proxy = {};
    options.connect_timeout = std::chrono::seconds(5);
    options.idle_timeout = std::chrono::seconds(5);
    return options;
}

// --- TLS -------------------------------------------------------------------------------------------------

const test_pki& test_pki::get() {
    static const test_pki instance;
    return instance;
}

test_pki::test_pki() {
    char templ[] = "/tmp/syncer-test-pki-XXXXXX";
    if (::mkdtemp(templ) == nullptr)
        throw std::runtime_error("cannot make a temporary directory for the PKI");
    dir_ = templ;
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script =
        "cd '" + dir_.string() + "' && mkdir certs mtls && " + "openssl req -x509 " + key +
        " -keyout ca.key -out ca.crt -days 2 -subj /CN=syncer-test-ca " +
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign && " +
        "openssl req " + key + " -keyout server.key -out server.csr -subj /CN=127.0.0.1 && " +
        "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext && " +
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 " +
        "-extfile server.ext && " + "openssl req " + key +
        " -keyout client.key -out client.csr -subj /CN=syncer-client && " +
        "printf 'extendedKeyUsage=clientAuth\\n' > client.ext && " +
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.cert -days "
        "2 " +
        "-extfile client.ext && " + "cp ca.crt certs/ && cp ca.crt client.cert client.key mtls/";
    if (std::system(("(" + script + ") >/dev/null 2>&1").c_str()) != 0)
        throw std::runtime_error("making the test PKI with the openssl CLI in " + dir_.string() + " failed");
}

test_pki::~test_pki() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

std::shared_ptr<ssl::context> test_pki::server_context(bool require_client_cert) const {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    context->use_certificate_chain_file((dir_ / "server.crt").string());
    context->use_private_key_file((dir_ / "server.key").string(), ssl::context::pem);
    if (require_client_cert) {
        context->load_verify_file((dir_ / "ca.crt").string());
        context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    return context;
}

} // namespace libregistry::testing
