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

} // namespace

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
