#include "session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <sys/stat.h>

namespace syncer {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace libregistry;

namespace {

// Certificate directories in the docker and containers conventions, used when no --cert-dir is given.
std::string default_cert_dir(const std::string& host) {
    for (const char* root : {"/etc/containers/certs.d/", "/etc/docker/certs.d/"}) {
        std::error_code ec;
        auto dir = fs::path(root) / host;
        if (fs::is_directory(dir, ec)) return dir.string();
    }
    return {};
}

} // namespace

session::session(int retry_times) : retry_times_(retry_times) {
    http::client_options options;
    options.user_agent = "syncer/" SYNCER_VERSION;
    options.settings_for = [this](std::string_view host) {
        auto it = hosts_.find(host);
        if (it != hosts_.end()) return it->second;
        http::host_settings s;
        s.cert_dir = default_cert_dir(std::string(host));
        return s;
    };
    client_ = std::make_unique<http::client>(io_.get_executor(), std::move(options));
}

remote_registry& session::open(const std::string& registry, const endpoint_flags& flags) {
    remote_options options;
    options.registry = registry;
    options.insecure = !flags.tls_verify;
    if (!flags.creds.empty()) {
        auto cred = parse_user_password(flags.creds);
        if (!cred) throw usage_error(cred.error().message);
        options.credentials = *cred;
    }
    if (!flags.auth_file.empty()) {
        std::error_code ec;
        if (!fs::exists(flags.auth_file, ec))
            throw usage_error(fmt::format("auth file {} does not exist", flags.auth_file));
        options.auth_files = {flags.auth_file};
    } else {
        options.auth_files = default_auth_files();
    }
    if (!flags.cert_dir.empty()) {
        std::error_code ec;
        if (!fs::is_directory(flags.cert_dir, ec))
            throw usage_error(fmt::format("certificate directory {} does not exist", flags.cert_dir));
    }
    http::host_settings settings;
    settings.insecure = !flags.tls_verify;
    settings.tls_verify = flags.tls_verify;
    settings.cert_dir = flags.cert_dir;
    return open(std::move(options), settings);
}

remote_registry& session::open(remote_options options, http::host_settings tls) {
    options.retry.max_attempts = std::max(1, retry_times_ + 1);
    if (tls.cert_dir.empty()) tls.cert_dir = default_cert_dir(options.registry);
    auto api_host =
        options.registry == docker_hub_registry ? std::string(docker_hub_api_host) : options.registry;
    hosts_[api_host] = tls;
    registries_.push_back(std::make_unique<remote_registry>(*client_, std::move(options)));
    return *registries_.back();
}

int session::run(std::function<asio::awaitable<int>()> task) {
    int status = 1;
    std::exception_ptr failure;
    asio::co_spawn(io_, task(), [&](std::exception_ptr e, int value) {
        failure = e;
        status = value;
    });
    io_.run();
    if (failure) std::rethrow_exception(failure);
    return status;
}

reference parse_cli_reference(const std::string& text, const std::string& what) {
    auto ref = parse_reference(text);
    if (!ref) throw usage_error(fmt::format("{}: {}", what, ref.error().message));
    return *ref;
}

} // namespace syncer
