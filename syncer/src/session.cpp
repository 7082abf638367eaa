#include "session.hpp"
#include "commands/commands.hpp"
#include "config/sync_config.hpp"
#include "credential_files.hpp"
#include "output/logger.hpp"
#include "text.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <libregistry/core/redact.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <iterator>
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

std::optional<credential>
endpoint_credentials(const endpoint_flags& flags, std::istream& in,
                     const std::function<std::optional<std::string>(std::string_view)>& env) {
    const auto creds_flag = fmt::format("--{}creds", flags.flag_prefix);
    const auto stdin_flag = fmt::format("--{}password-stdin", flags.flag_prefix);
    const auto env_flag = fmt::format("--{}password-env", flags.flag_prefix);
    const bool from_env = !flags.password_env.empty();
    if (flags.password_stdin && from_env)
        throw usage_error(fmt::format("{} and {} both give the password: use one", stdin_flag, env_flag));
    if (flags.creds.empty()) {
        if (flags.password_stdin || from_env)
            throw usage_error(fmt::format("{} needs {} USER: the password is for that user",
                                          flags.password_stdin ? stdin_flag : env_flag, creds_flag));
        return std::nullopt;
    }
    auto cred = parse_user_password(flags.creds);
    if (!cred) throw usage_error(fmt::format("{}: {}", creds_flag, cred.error().message));
    if (flags.password_stdin || from_env) {
        const auto source = flags.password_stdin ? stdin_flag : env_flag;
        // The password is not echoed: a mistyped USER:PASS is a secret too.
        if (flags.creds.find(':') != std::string::npos)
            throw usage_error(fmt::format("{} gives the password already (USER:PASS); with {} give only USER",
                                          creds_flag, source));
        std::string password;
        if (flags.password_stdin) {
            password.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
            // `echo "$PW" | syncer ...` and a file with a final newline: the newline is not the password's.
            if (password.ends_with("\r\n"))
                password.resize(password.size() - 2);
            else if (password.ends_with('\n'))
                password.pop_back();
            if (password.empty()) throw usage_error(fmt::format("{}: stdin gave no password", stdin_flag));
        } else {
            auto value = env(flags.password_env);
            if (!value)
                throw usage_error(
                    fmt::format("{} {}: that environment variable is not set", env_flag, flags.password_env));
            if (value->empty())
                throw usage_error(
                    fmt::format("{} {}: that environment variable is empty", env_flag, flags.password_env));
            password = std::move(*value);
        }
        cred->password = std::move(password);
    }
    // Known before any registry is asked, so that no message can quote them, whatever a registry echoes.
    known_secrets().add_basic(cred->username, cred->password);
    return *cred;
}

void add_password_flags(CLI::App& cmd, endpoint_flags& flags) {
    const auto creds_flag = "--" + flags.flag_prefix + "creds";
    cmd.add_flag("--" + flags.flag_prefix + "password-stdin", flags.password_stdin,
                 "Read the password for " + creds_flag +
                     " USER from stdin (kept out of the process's arguments)");
    cmd.add_option("--" + flags.flag_prefix + "password-env", flags.password_env,
                   "Take the password for " + creds_flag + " USER from environment variable VAR")
        ->type_name("VAR");
}

void enable_debug_log() {
    debug_log = true;
}

session::session(int retry_times, std::optional<min_transfer_rate> min_rate) : retry_times_(retry_times) {
    http::client_options options;
    options.user_agent = "syncer/" SYNCER_VERSION;
    if (min_rate) {
        options.min_rate = *min_rate;
        options.min_rate_hint = "--min-rate and --min-rate-window set the minimum, --min-rate 0 turns it off";
    }
    if (debug_log || debug_from_environment())
        options.debug = [](std::string_view text) {
            if (stderr_json()) {
                while (!text.empty()) {
                    auto end = text.find('\n');
                    const std::string line(text.substr(0, end));
                    stderr_line("debug", "http", "", line);
                    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
                }
                return;
            }
            std::string out;
            while (!text.empty()) {
                auto end = text.find('\n');
                out.append("debug: ").append(safe_text(text.substr(0, end))).append("\n");
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
    options.credentials = endpoint_credentials(flags, std::cin, process_environment());
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

std::vector<std::pair<std::string, remote_statistics>> session::registry_stats() const {
    std::vector<std::pair<std::string, remote_statistics>> out;
    for (const auto& r : registries_)
        out.emplace_back(r->name(), r->stats());
    return out;
}

remote_registry& session::open(remote_options options, http::host_settings tls) {
    options.retry.max_attempts = std::max(1, retry_times_ + 1);
    if (max_wait) options.max_wait = *max_wait;
    if (warm_connections) options.warm_connections = *warm_connections;
    if (tls.cert_dir.empty()) tls.cert_dir = default_cert_dir(options.registry);
    warn_if_keys_exposed(tls.cert_dir);
    hosts_[api_host_of(options.registry)] = tls;
    registries_.push_back(std::make_unique<remote_registry>(*client_, std::move(options)));
    return *registries_.back();
}

namespace {

// `value` as `width` decimal digits at `p`; returns the end.
char* put_digits(char* p, long value, int width) {
    for (int i = width - 1; i >= 0; --i) {
        p[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
    return p + width;
}

char* put_text(char* p, const char* text) {
    while (*text)
        *p++ = *text++;
    return p;
}

// The late signal's JSON log line, with its time worked out by arithmetic: gmtime and fmt are not
// async-signal-safe, clock_gettime is.
std::size_t late_signal_json(char* out, const char* message) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    long days = static_cast<long>(now.tv_sec / 86400);
    const long seconds = static_cast<long>(now.tv_sec % 86400);
    const auto leap = [](long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; };
    long year = 1970;
    while (days >= (leap(year) ? 366 : 365)) {
        days -= leap(year) ? 366 : 365;
        ++year;
    }
    static constexpr int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int month = 0;
    for (;;) {
        const int length = month_days[month] + (month == 1 && leap(year) ? 1 : 0);
        if (days < length) break;
        days -= length;
        ++month;
    }
    char* p = put_text(out, "{\"time\":\"");
    p = put_digits(p, year, 4);
    *p++ = '-';
    p = put_digits(p, month + 1, 2);
    *p++ = '-';
    p = put_digits(p, days + 1, 2);
    *p++ = 'T';
    p = put_digits(p, seconds / 3600, 2);
    *p++ = ':';
    p = put_digits(p, seconds / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, seconds % 60, 2);
    *p++ = '.';
    p = put_digits(p, now.tv_nsec / 1000000, 3);
    p = put_text(p, "Z\",\"level\":\"error\",\"event\":\"exit\",\"msg\":\"");
    p = put_text(p, message);
    p = put_text(p, "\"}\n");
    return static_cast<std::size_t>(p - out);
}

// Once a stop was requested, a signal that arrives after the run (while the process winds down, when the
// signal_set no longer listens) is still a second signal: exit at once with its status rather than die of
// it. Only async-signal-safe calls here.
extern "C" void exit_on_late_signal(int sig) {
    const char* message = sig == SIGINT ? "SIGINT again: exiting at once" : "SIGTERM again: exiting at once";
    char line[160];
    if (stderr_json()) {
        (void)!::write(STDERR_FILENO, line, late_signal_json(line, message));
    } else {
        char* end = put_text(put_text(line, "syncer: "), message);
        *end++ = '\n';
        (void)!::write(STDERR_FILENO, line, static_cast<std::size_t>(end - line));
    }
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
    asio::steady_timer deadline(io_);
    asio::steady_timer grace(io_);
    asio::steady_timer last_resort(io_);
    auto exit_now = [this](const std::string& why) {
        stderr_line("error", "exit", "syncer: " + why, why);
        std::fflush(nullptr);
        std::_Exit(signal_ != 0 ? exit_signal_base + signal_ : exit_failed);
    };
    // The first signal, or the timeout: nothing new starts, and after the grace period every connection is
    // closed.
    auto begin_stop = [&](const std::string& cause, std::string_view again) {
        const auto notice = fmt::format("{}: stopping; transfers in flight have {} s to finish ({})", cause,
                                        timing.grace.count() / 1000.0, again);
        stderr_line("warning", "stopping", "syncer: " + notice, notice,
                    {{"cause", cause}, {"grace_ms", timing.grace.count()}});
        stop_.request_stop();
        deadline.cancel();
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
    };
    std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                        int sig) {
        if (ec) return;
        if (stop_.stop_requested()) {
            // A second signal, or one while a timed-out run winds down.
            const std::string again = signal_ != 0 ? " again" : "";
            signal_ = sig;
            exit_now(fmt::format("{}{}: exiting at once; no report is written", signal_name(sig), again));
        }
        signal_ = sig;
        begin_stop(signal_name(sig), "send it again to exit at once");
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    if (timeout.count() > 0) {
        deadline.expires_after(timeout);
        deadline.async_wait([&](boost::system::error_code ec) {
            if (ec || stop_.stop_requested()) return;
            timed_out_ = true;
            begin_stop(stop_text(), "SIGINT or SIGTERM exits at once");
        });
    }
    asio::co_spawn(io_, task(), [&](std::exception_ptr e, int value) {
        failure = e;
        status = value;
        boost::system::error_code ignored;
        signals.cancel(ignored);
        deadline.cancel();
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
    if (signal_ != 0) return exit_signal_base + signal_;
    // A run cut short by --timeout did not do everything it was asked to.
    if (timed_out_ && status == exit_ok) return exit_failed;
    return status;
}

std::string session::stopped_by() const {
    if (signal_ != 0) return signal_name(signal_);
    return timed_out_ ? "timeout" : "";
}

std::string session::stop_text() const {
    if (signal_ != 0) return "interrupted by " + signal_name(signal_);
    if (timed_out_) return fmt::format("timed out after {} (--timeout)", format_duration(timeout));
    return {};
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

reference parse_cli_reference(const std::string& text, const std::string& what) {
    auto ref = parse_reference(text);
    if (!ref) throw usage_error(fmt::format("{}: {}", what, ref.error().message));
    return *ref;
}

} // namespace syncer
