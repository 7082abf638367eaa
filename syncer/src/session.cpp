#include "session.hpp"
#include "commands/commands.hpp"
#include "credential_files.hpp"

#include <libregistry/core/duration.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <pthread.h>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

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

bool debug_log = false;

bool debug_from_environment() {
    const char* v = std::getenv("SYNCER_DEBUG");
    return v != nullptr && *v != '\0' && std::string_view(v) != "0" && std::string_view(v) != "false";
}

} // namespace

void enable_debug_log() {
    debug_log = true;
}

session::session(int retry_times) : retry_times_(retry_times) {
    http::client_options options;
    options.user_agent = "syncer/" SYNCER_VERSION;
    if (debug_log || debug_from_environment())
        options.debug = [](std::string_view text) {
            std::string out;
            while (!text.empty()) {
                auto end = text.find('\n');
                out.append("debug: ").append(text.substr(0, end)).append("\n");
                text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
            }
            std::cerr << out << std::flush;
        };
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
    for (const auto& file : options.auth_files)
        warn_if_exposed(file);
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
    if (max_wait) options.max_wait = *max_wait;
    if (tls.cert_dir.empty()) tls.cert_dir = default_cert_dir(options.registry);
    warn_if_keys_exposed(tls.cert_dir);
    hosts_[api_host_of(options.registry)] = tls;
    registries_.push_back(std::make_unique<remote_registry>(*client_, std::move(options)));
    return *registries_.back();
}

namespace {

// Once a stop was requested, a signal that arrives after the run (while the process winds down, when the
// signal_set no longer listens) is still a second signal: exit at once with its status rather than die of
// it. Only async-signal-safe calls here.
extern "C" void exit_on_late_signal(int sig) {
    static constexpr char sigint[] = "syncer: SIGINT again: exiting at once\n";
    static constexpr char sigterm[] = "syncer: SIGTERM again: exiting at once\n";
    if (sig == SIGINT)
        (void)!::write(STDERR_FILENO, sigint, sizeof sigint - 1);
    else
        (void)!::write(STDERR_FILENO, sigterm, sizeof sigterm - 1);
    std::_Exit(exit_signal_base + sig);
}

} // namespace

int session::run(std::function<asio::awaitable<int>()> task) {
    int status = run_handling_signals(std::move(task));
    if (signal_ != 0) {
        // run_handling_signals blocked both signals before its signal_set went away (which restores the
        // default action); one that came since is delivered to this handler when they are unblocked.
        std::signal(SIGINT, exit_on_late_signal);
        std::signal(SIGTERM, exit_on_late_signal);
        sigset_t both;
        sigemptyset(&both);
        sigaddset(&both, SIGINT);
        sigaddset(&both, SIGTERM);
        pthread_sigmask(SIG_UNBLOCK, &both, nullptr);
    }
    return status;
}

int session::run_handling_signals(std::function<asio::awaitable<int>()> task) {
    int status = 1;
    std::exception_ptr failure;
    // Signals are handled on the io_context's thread (asio::signal_set), so everything below is ordinary
    // single-threaded code, not a signal handler.
    asio::signal_set signals(io_, SIGINT, SIGTERM);
    asio::steady_timer grace(io_);
    asio::steady_timer last_resort(io_);
    auto exit_now = [this](const std::string& why) {
        std::cerr << "syncer: " << why << "\n";
        std::fflush(nullptr);
        std::_Exit(exit_signal_base + signal_);
    };
    std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                        int sig) {
        if (ec) return;
        if (signal_ != 0) {
            signal_ = sig;
            exit_now(fmt::format("{} again: exiting at once; no report is written", signal_name(sig)));
        }
        signal_ = sig;
        std::cerr << fmt::format(
            "syncer: {}: stopping; transfers in flight have {} s to finish (send it again "
            "to exit at once)\n",
            signal_name(sig), timing.grace.count() / 1000.0);
        stop_.request_stop();
        grace.expires_after(timing.grace);
        grace.async_wait([&](boost::system::error_code e) {
            if (e) return;
            client_->abort(timing.cleanup);
            last_resort.expires_after(timing.last_resort);
            last_resort.async_wait([&](boost::system::error_code e2) {
                if (!e2)
                    exit_now("the run did not wind down after its connections were closed; exiting without a "
                             "report");
            });
        });
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    asio::co_spawn(io_, task(), [&](std::exception_ptr e, int value) {
        failure = e;
        status = value;
        boost::system::error_code ignored;
        signals.cancel(ignored);
        grace.cancel();
        last_resort.cancel();
    });
    io_.restart();
    io_.run();
    if (failure) std::rethrow_exception(failure);
    if (signal_ != 0) {
        sigset_t both;
        sigemptyset(&both);
        sigaddset(&both, SIGINT);
        sigaddset(&both, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &both, nullptr);
    }
    return signal_ != 0 ? exit_signal_base + signal_ : status;
}

std::string signal_name(int signal) {
    switch (signal) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    default:
        return fmt::format("signal {}", signal);
    }
}

std::chrono::milliseconds parse_duration_flag(const std::string& flag, const std::string& text) {
    auto d = parse_duration(text);
    if (!d) throw usage_error(fmt::format("{} {}", flag, d.error().message));
    return *d;
}

reference parse_cli_reference(const std::string& text, const std::string& what) {
    auto ref = parse_reference(text);
    if (!ref) throw usage_error(fmt::format("{}: {}", what, ref.error().message));
    return *ref;
}

} // namespace syncer
