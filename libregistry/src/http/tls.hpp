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

/// One ssl::context per distinct (tls_verify, cert_dir), built on first use: loading the system store and
/// a certificate directory is far too slow to repeat per connection.
class tls_contexts {
public:
    result<std::shared_ptr<boost::asio::ssl::context>> get(const host_settings& settings);

private:
    std::map<std::pair<bool, std::string>, std::shared_ptr<boost::asio::ssl::context>> cache_;
};

/// Sets SNI (names only; RFC 6066 section 3 forbids IP literals) and, when verifying, the name or address
/// the peer certificate must carry. `host` has no brackets.
result<void> prepare_tls_connection(SSL* ssl, const std::string& host, bool verify);

/// Why a handshake failed, with the certificate verification result when there is one and a hint on what
/// to do, e.g. "certificate verify failed (self-signed certificate); pass the registry's CA ...".
std::string describe_handshake_failure(SSL* ssl, const boost::system::error_code& ec);

} // namespace libregistry::http::detail
