#pragma once
// What every command needs to talk to registries: an io_context, one HTTP client, and registry clients
// configured from flags.
#include <libregistry/client/remote_registry.hpp>
#include <libregistry/core/credentials.hpp>
#include <libregistry/core/reference.hpp>
#include <libregistry/core/transfer_rate.hpp>
#include <libregistry/http/client.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

namespace CLI {
class App;
}

namespace syncer {

/// How to reach one side (source or destination), from skopeo-style flags.
struct endpoint_flags {
    std::string creds;           ///< USER[:PASS]
    bool password_stdin = false; ///< the password of `creds` (USER alone) is read from stdin
    std::string password_env;    ///< the name of the environment variable that holds the password
    std::string flag_prefix;     ///< "src-", "dest-" or "": how the flags above are named, for messages
    bool tls_verify = true;      ///< false also allows plain HTTP, as with skopeo
    std::string cert_dir;
    std::string auth_file; ///< empty: the default search path
};

/// Thrown for bad flags or input: main prints the message and exits 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// How a run winds down after SIGINT or SIGTERM, or once `session::timeout` has passed (see session::run).
struct stop_timing {
    /// Transfers in flight may finish for this long; then every connection is closed.
    std::chrono::milliseconds grace{std::chrono::seconds(5)};
    /// Connect and idle timeout of the requests that clean up after that (DELETE of upload sessions).
    std::chrono::milliseconds cleanup{std::chrono::seconds(2)};
    /// After the connections are closed, how long the run may still take before syncer exits without it.
    std::chrono::milliseconds last_resort{std::chrono::seconds(5)};
};

/// The credentials `flags` give, nullopt without any: `creds` as USER[:PASS], or USER with the password
/// read from `in` (one trailing newline dropped) or taken from the environment variable `password_env`
/// (looked up with `env`), so that it never appears in the process's arguments. Every password is added to
/// libregistry::known_secrets. Throws usage_error for a password given twice or missing, or without a user.
std::optional<libregistry::credential>
endpoint_credentials(const endpoint_flags& flags, std::istream& in,
                     const std::function<std::optional<std::string>(std::string_view)>& env);

/// Adds --PREFIXpassword-stdin and --PREFIXpassword-env VAR (PREFIX: `flags.flag_prefix`) to `cmd`.
void add_password_flags(CLI::App& cmd, endpoint_flags& flags);

/// `--debug` (or SYNCER_DEBUG=1): every HTTP exchange of the sessions created afterwards is described on
/// stderr, secrets redacted.
void enable_debug_log();

class session {
public:
    /// `min_rate` (--min-rate, --min-rate-window) replaces the library's default minimum transfer rate, and
    /// its failures name those flags; commands without the flags leave it out.
    explicit session(int retry_times = 3,
                     std::optional<libregistry::min_transfer_rate> min_rate = std::nullopt);

    /// A registry client for `registry` (normalised name) with `flags`; throws usage_error for unusable
    /// flags.
    libregistry::remote_registry& open(const std::string& registry, const endpoint_flags& flags);

    /// A registry client from fully prepared options; `tls` applies to the registry's API host.
    libregistry::remote_registry& open(libregistry::remote_options options,
                                       libregistry::http::host_settings tls);

    libregistry::http::client& client() { return *client_; }

    /// What the client of each registry opened so far counted (requests, retries, errors, the last rate limit
    /// remaining), by registry name, in the order they were opened.
    std::vector<std::pair<std::string, libregistry::remote_statistics>> registry_stats() const;

    /// Runs `task` to completion on the io_context and returns its value, or 128 + the signal number after
    /// SIGINT or SIGTERM. The first signal requests a stop (stop_token(); the task is expected to wind down
    /// and report), and after `stop_timing::grace` closes every connection. A second signal, or a task still
    /// running `last_resort` after that, ends the process at once with that status. When `timeout` passes
    /// first, the run is stopped the same way and the status is exit_failed (or the task's own failure); a
    /// signal after that ends the process at once.
    int run(std::function<boost::asio::awaitable<int>()> task);

    /// Requested by the first SIGINT or SIGTERM during run(), or by the timeout.
    std::stop_token stop_token() const { return stop_.get_token(); }
    /// The signal that interrupted run() (SIGINT, SIGTERM), or 0.
    int interrupted_by() const { return signal_; }
    /// run() was stopped because `timeout` passed.
    bool timed_out() const { return timed_out_; }
    /// What stopped run(), as the report's `interrupted` says it: "SIGINT", "SIGTERM", "timeout"; "" if
    /// nothing.
    std::string stopped_by() const;
    /// The same in words: "interrupted by SIGINT", "timed out after 2 min (--timeout)"; "" if nothing.
    std::string stop_text() const;

    stop_timing timing;
    /// --timeout: how long run() may take before it is stopped; zero for no limit.
    std::chrono::milliseconds timeout{0};
    /// `--max-wait`: the longest a registry's rate limit is waited for, in the registries opened afterwards
    /// (unset: remote_options' default).
    std::optional<std::chrono::milliseconds> max_wait;
    /// The most connections a registry opened afterwards opens ahead of requests (remote_options::
    /// warm_connections; unset: its default). `sync` passes its metadata limit's start.
    std::optional<std::size_t> warm_connections;

private:
    int run_handling_signals(std::function<boost::asio::awaitable<int>()> task);

    boost::asio::io_context io_;
    std::stop_source stop_;
    int signal_ = 0;
    bool timed_out_ = false;
    std::map<std::string, libregistry::http::host_settings, std::less<>> hosts_;
    std::unique_ptr<libregistry::http::client> client_;
    std::vector<std::unique_ptr<libregistry::remote_registry>> registries_;
    int retry_times_;
};

/// "SIGINT", "SIGTERM", or "signal N".
std::string signal_name(int signal);

/// Parses a reference given on the command line (`docker://` optional); throws usage_error naming `what`.
libregistry::reference parse_cli_reference(const std::string& text, const std::string& what);

} // namespace syncer
