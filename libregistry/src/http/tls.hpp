#pragma once
// TLS client contexts and per-connection TLS setup; private to the HTTP transport.
#include "libregistry/core/error.hpp"
#include "libregistry/http/client.hpp"

#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace libregistry::http::detail {

/// The TLS sessions servers issued, one per host and TLS settings (the newest), for resumption.
class tls_session_store {
public:
    tls_session_store() = default;
    tls_session_store(const tls_session_store&) = delete;
    tls_session_store& operator=(const tls_session_store&) = delete;

    /// Takes over the reference to `session`, replacing what `key` had.
    void put(const std::string& key, SSL_SESSION* session);
    /// The session kept for `key`, still owned by the store; null when there is none.
    SSL_SESSION* find(const std::string& key) const;
    void forget(const std::string& key);

private:
    struct free_session {
        void operator()(SSL_SESSION* session) const noexcept { SSL_SESSION_free(session); }
    };
    std::map<std::string, std::unique_ptr<SSL_SESSION, free_session>> sessions_;
};

/// One ssl::context per distinct (tls_verify, cert_dir), built on first use: loading the system store and
/// a certificate directory is far too slow to repeat per connection. The contexts keep the sessions their
/// connections are issued (a TLS 1.2 session after the handshake, TLS 1.3 tickets whenever they arrive) in
/// `sessions()`, each under the key its connection was given by `resume`.
class tls_contexts {
public:
    tls_contexts();

    result<std::shared_ptr<boost::asio::ssl::context>> get(const host_settings& settings);

    /// Prepares `ssl`, a new connection's, for resumption: it offers the session kept for its host (`origin`:
    /// scheme, host, port and the proxy it goes through) and these settings, if there is one, and the
    /// sessions the server issues on it are kept under the same key. A session is never offered to another
    /// host or under other settings: resuming skips certificate verification, which only the same host
    /// under the same trust may skip.
    void resume(SSL* ssl, const host_settings& settings, const std::string& origin);
    /// Drops what `resume` would offer this host (after a failed handshake: its next one starts afresh).
    void forget(const host_settings& settings, const std::string& origin);

    const tls_session_store& sessions() const { return *sessions_; }

private:
    std::map<std::pair<bool, std::string>, std::shared_ptr<boost::asio::ssl::context>> cache_;
    std::shared_ptr<tls_session_store> sessions_;
};

/// Whether the handshake `ssl` completed resumed a session (an abbreviated handshake, no certificates).
bool handshake_resumed(SSL* ssl);

/// Sets SNI (names only; RFC 6066 section 3 forbids IP literals) and, when verifying, the name or address
/// the peer certificate must carry. `host` has no brackets.
result<void> prepare_tls_connection(SSL* ssl, const std::string& host, bool verify);

/// Why a handshake failed, with the certificate verification result when there is one and a hint on what
/// to do, e.g. "certificate verify failed (self-signed certificate); pass the registry's CA ...".
std::string describe_handshake_failure(SSL* ssl, const boost::system::error_code& ec);

} // namespace libregistry::http::detail
