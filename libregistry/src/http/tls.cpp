#include "http/tls.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <vector>

namespace libregistry::http::detail {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace fs = std::filesystem;

/// OpenSSL's reason alone ("certificate verify failed"); asio's message appends the library name.
std::string openssl_reason(const boost::system::error_code& ec) {
    if (ec.category() == asio::error::get_ssl_category())
        if (const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value())))
            return reason;
    return ec.message();
}

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

error cert_dir_error(const std::string& what, const fs::path& file, const std::string& why) {
    return make_error(errc::tls_error, "cannot load " + what + " " + file.string() + ": " + why +
                                           "; check the files in the certificate directory");
}

/// The containers-certs.d layout (containers-certs.d(5)): every `*.crt` is a CA, and each `name.cert`
/// with its `name.key` is a client certificate.
result<void> load_cert_dir(ssl::context& context, const std::string& dir) {
    std::error_code fs_ec;
    std::vector<fs::path> files;
    for (fs::directory_iterator it(dir, fs_ec), end; !fs_ec && it != end; it.increment(fs_ec))
        files.push_back(it->path());
    if (fs_ec)
        return make_error(errc::tls_error,
                          "cannot read certificate directory " + dir + ": " + fs_ec.message());
    std::sort(files.begin(), files.end());

    bool have_client_cert = false;
    for (const auto& file : files) {
        const auto extension = file.extension();
        boost::system::error_code ec;
        if (extension == ".crt") {
            context.load_verify_file(file.string(), ec);
            if (ec) return cert_dir_error("CA certificate", file, openssl_reason(ec));
        } else if (extension == ".cert") {
            auto key = file;
            key.replace_extension(".key");
            if (!fs::exists(key, fs_ec))
                return cert_dir_error("client certificate", file, "no matching " + key.filename().string());
            // A context holds one client identity; the first pair in name order wins.
            if (have_client_cert) continue;
            context.use_certificate_chain_file(file.string(), ec);
            if (ec) return cert_dir_error("client certificate", file, openssl_reason(ec));
            context.use_private_key_file(key.string(), ssl::context::pem, ec);
            if (ec) return cert_dir_error("client key", key, openssl_reason(ec));
            have_client_cert = true;
        } else if (extension == ".key") {
            auto cert = file;
            cert.replace_extension(".cert");
            if (!fs::exists(cert, fs_ec))
                return cert_dir_error("client key", file, "no matching " + cert.filename().string());
        }
    }
    return {};
}

/// What a connection's SSL object carries for on_new_session: where its sessions go. The SSL object owns it
/// (free_tag), so a ticket arriving on any connection, however late, finds a valid tag.
struct session_tag {
    std::weak_ptr<tls_session_store> store;
    std::string key;
};

void free_tag(void*, void* tag, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<session_tag*>(tag);
}

int tag_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_tag);
    return index;
}

/// OpenSSL's new-session callback: called once per TLS 1.2 handshake and once per TLS 1.3 ticket. The store
/// keeps a copy, never a session an SSL object uses: freeing a connection that was not shut down with a
/// close_notify (ours are closed, or the server closes them) marks the SSL object's session as not
/// resumable, and the next connection would then do a full handshake.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
    const auto* tag = static_cast<session_tag*>(SSL_get_ex_data(ssl, tag_index()));
    if (tag == nullptr || SSL_SESSION_is_resumable(session) != 1) return 0;
    auto store = tag->store.lock();
    if (!store) return 0;
    if (SSL_SESSION* copy = SSL_SESSION_dup(session)) store->put(tag->key, copy);
    return 0;
}

std::string session_key(const host_settings& settings, const std::string& origin) {
    // The cert_dir cannot hold a newline in practice, and the verify flag leads: keys of different settings
    // never collide.
    return (settings.tls_verify ? "verify\n" : "no-verify\n") + settings.cert_dir + "\n" + origin;
}

} // namespace

void tls_session_store::put(const std::string& key, SSL_SESSION* session) {
    sessions_[key].reset(session);
}

SSL_SESSION* tls_session_store::find(const std::string& key) const {
    auto it = sessions_.find(key);
    return it == sessions_.end() ? nullptr : it->second.get();
}

void tls_session_store::forget(const std::string& key) {
    sessions_.erase(key);
}

tls_contexts::tls_contexts() : sessions_(std::make_shared<tls_session_store>()) {}

void tls_contexts::resume(SSL* ssl, const host_settings& settings, const std::string& origin) {
    auto key = session_key(settings, origin);
    // A copy again (see on_new_session), so the kept session stays resumable whatever becomes of this
    // connection. SSL_set_session takes its own reference; a session it refuses means a full handshake.
    if (SSL_SESSION* kept = sessions_->find(key))
        if (SSL_SESSION* copy = SSL_SESSION_dup(kept)) {
            SSL_set_session(ssl, copy);
            SSL_SESSION_free(copy);
        }
    auto tag = std::make_unique<session_tag>(session_tag{sessions_, std::move(key)});
    if (SSL_set_ex_data(ssl, tag_index(), tag.get()) == 1) tag.release();
}

void tls_contexts::forget(const host_settings& settings, const std::string& origin) {
    sessions_->forget(session_key(settings, origin));
}

bool handshake_resumed(SSL* ssl) {
    return SSL_session_reused(ssl) == 1;
}

result<std::shared_ptr<ssl::context>> tls_contexts::get(const host_settings& settings) {
    auto key = std::make_pair(settings.tls_verify, settings.cert_dir);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;

    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    boost::system::error_code ec;
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                             ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                         ec);
    if (!ec && settings.tls_verify) context->set_default_verify_paths(ec);
    if (ec) return make_error(errc::tls_error, "cannot set up TLS: " + openssl_reason(ec));
    context->set_verify_mode(settings.tls_verify ? ssl::verify_peer : ssl::verify_none);
    if (!settings.cert_dir.empty())
        if (auto loaded = load_cert_dir(*context, settings.cert_dir); !loaded) return loaded.error();
    // The client side of OpenSSL's session cache, without its store: which session a connection offers is
    // decided per host in resume(), the callback only collects what servers issue.
    SSL_CTX* native = context->native_handle();
    SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(native, on_new_session);

    cache_.emplace(std::move(key), context);
    return context;
}

result<void> prepare_tls_connection(SSL* ssl, const std::string& host, bool verify) {
    const bool ip = is_ip_literal(host);
    if (!ip && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1)
        return make_error(errc::tls_error, "cannot use " + host + " as a TLS server name");
    if (!verify) return {};
    // OpenSSL's own check (rather than a verify callback) records a mismatch as the verification result,
    // so the error can say "hostname mismatch" instead of a bare "certificate verify failed".
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str())
                      : SSL_set1_host(ssl, host.c_str());
    if (ok != 1) return make_error(errc::tls_error, "cannot verify certificates for " + host);
    return {};
}

std::string describe_handshake_failure(SSL* ssl, const boost::system::error_code& ec) {
    std::string reason;
    if (ec == ssl::error::stream_truncated || ec == asio::error::eof)
        reason = "the server closed the connection";
    else
        reason = openssl_reason(ec);

    const bool verifying = (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0;
    const long verify_result = SSL_get_verify_result(ssl);
    if (verifying && verify_result != X509_V_OK) {
        reason += " (";
        reason += X509_verify_cert_error_string(verify_result);
        reason += "); pass the registry's CA with --src-cert-dir/--dest-cert-dir or disable verification for "
                  "that registry";
    } else if (reason.find("wrong version number") != std::string::npos ||
               reason.find("packet length too long") != std::string::npos ||
               reason.find("http request") != std::string::npos) {
        reason +=
            "; the server does not speak TLS on this port (a plain-HTTP registry must be marked insecure "
            "and addressed with http://)";
    }
    return reason;
}

} // namespace libregistry::http::detail
