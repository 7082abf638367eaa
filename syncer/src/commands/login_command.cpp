// `syncer login REGISTRY` and `syncer logout REGISTRY|--all`: credentials checked against the registry and
// kept where skopeo and docker keep them (containers auth.json, or a credential helper the file names).
#include "commands/commands.hpp"
#include "session.hpp"
#include "text.hpp"

#include <libregistry/client/credential_source.hpp>
#include <libregistry/core/credentials.hpp>
#include <libregistry/core/redact.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

namespace syncer {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace libregistry;

namespace {

struct login_flags {
    std::string registry;
    std::string username;
    std::string password;
    bool password_stdin = false;
    std::string auth_file;
    bool tls_verify = true;
    std::string cert_dir;
    int retry_times = 3;
    bool all = false; ///< logout --all
};

/// Where login writes and logout edits, as skopeo (containers/image) decides it: --authfile,
/// $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json, else /run/containers/UID/auth.json.
std::string auth_file_to_edit(const login_flags& f) {
    if (!f.auth_file.empty()) return f.auth_file;
    auto env = [](const char* name) {
        const char* v = std::getenv(name);
        return v ? std::string(v) : std::string();
    };
    if (auto v = env("REGISTRY_AUTH_FILE"); !v.empty()) return v;
    if (auto v = env("XDG_RUNTIME_DIR"); !v.empty()) return v + "/containers/auth.json";
    return fmt::format("/run/containers/{}/auth.json", ::getuid());
}

/// The registry named on the command line: host[:port], a `https://host/` URL (as docker login takes it)
/// reduced to its host.
std::string registry_argument(std::string text) {
    if (auto scheme = text.find("://"); scheme != std::string::npos) text.erase(0, scheme + 3);
    if (auto slash = text.find('/'); slash != std::string::npos) text.erase(slash);
    auto registry = normalize_registry(text);
    if (registry.empty() || !parse_repository(registry + "/probe"))
        throw usage_error(fmt::format("invalid registry \"{}\": give a host[:port], e.g. quay.io or "
                                      "127.0.0.1:5000",
                                      safe_text(text)));
    return registry;
}

/// The file's content, "" when it does not exist; throws usage_error when it cannot be read.
std::string read_existing(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return {};
    std::ifstream in(path, std::ios::binary);
    if (!in) throw usage_error(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Replaces `path` with `content` at once (a private temporary file in the same directory, renamed over
/// it), mode 0600; its directory is created (0700) when missing. Throws usage_error naming the path.
void write_atomically(const std::string& path, const std::string& content) {
    const fs::path target(path);
    const auto dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        fs::create_directories(dir, ec);
        if (ec) throw usage_error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
        fs::permissions(dir, fs::perms::owner_all, ec);
    }
    auto temp = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
    const int fd = ::mkstemp(temp.data());
    if (fd < 0) throw usage_error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
    auto fail = [&](const char* step) {
        const int saved = errno;
        ::close(fd);
        ::unlink(temp.c_str());
        throw usage_error(fmt::format("cannot write {} ({}): {}", path, step, std::strerror(saved)));
    };
    if (::fchmod(fd, 0600) != 0) fail("chmod");
    std::size_t written = 0;
    while (written < content.size()) {
        const auto n = ::write(fd, content.data() + written, content.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("write");
        written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) fail("fsync");
    if (::close(fd) != 0) {
        const int saved = errno;
        ::unlink(temp.c_str());
        throw usage_error(fmt::format("cannot write {}: {}", path, std::strerror(saved)));
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const int saved = errno;
        ::unlink(temp.c_str());
        throw usage_error(fmt::format("cannot replace {}: {}", path, std::strerror(saved)));
    }
}

/// What the auth file says keeps the credentials for `registry`: its credHelpers entry, else its
/// credsStore (docker's rule); nullopt when neither. `plan.server` is what the helper is told.
std::optional<auth_file::lookup_plan> helper_for(const std::string& text, const std::string& path,
                                                 const std::string& registry) {
    if (text.empty()) return std::nullopt;
    auto file = auth_file::parse(text, path);
    if (!file) throw usage_error(safe_text(file.error().message));
    auto plan = file->resolve(registry);
    if (!plan.helper.empty()) return plan;
    if (!plan.store.empty()) {
        plan.helper = plan.store;
        return plan;
    }
    return std::nullopt;
}

/// A line typed on the terminal; `secret` turns echo off while it is typed.
std::string prompt(const char* label, bool secret) {
    std::cerr << label << std::flush;
    termios saved{};
    const bool restore = secret && ::tcgetattr(STDIN_FILENO, &saved) == 0;
    if (restore) {
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    std::string line;
    std::getline(std::cin, line);
    if (restore) {
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        std::cerr << "\n";
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

credential login_credential(const login_flags& f) {
    const bool terminal = ::isatty(STDIN_FILENO) != 0;
    if (f.password_stdin && !f.password.empty())
        throw usage_error("--password and --password-stdin both give the password: use one");
    credential cred;
    cred.username = f.username;
    if (cred.username.empty()) {
        if (f.password_stdin || !terminal)
            throw usage_error("give the user with --username USER (-u): stdin is not a terminal to ask on");
        cred.username = prompt("Username: ", false);
    }
    if (f.password_stdin) {
        cred.password.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        if (cred.password.ends_with("\r\n"))
            cred.password.resize(cred.password.size() - 2);
        else if (cred.password.ends_with('\n'))
            cred.password.pop_back();
    } else if (!f.password.empty()) {
        cred.password = f.password;
        std::cerr
            << "syncer login: warning: --password puts the password in the process list and the shell's "
               "history; use --password-stdin\n";
    } else if (terminal) {
        cred.password = prompt("Password: ", true);
    } else {
        throw usage_error(
            "give the password on stdin with --password-stdin (stdin is not a terminal to ask on)");
    }
    if (cred.username.empty()) throw usage_error("the user name is empty");
    if (cred.password.empty()) throw usage_error("the password is empty");
    known_secrets().add_basic(cred.username, cred.password);
    return cred;
}

int run_login(const login_flags& f) {
    const auto registry = registry_argument(f.registry);
    const auto path = auth_file_to_edit(f);
    // Read and checked before the registry is asked, so that a file syncer cannot edit fails the login
    // before anything is sent.
    const auto existing = read_existing(path);
    const auto helper = helper_for(existing, path, registry);
    std::string updated;
    const auto cred = login_credential(f);
    if (!helper) {
        auto next = auth_file_with_login(existing, path, registry, cred);
        if (!next) throw usage_error(safe_text(next.error().message));
        updated = std::move(*next);
    }
    if (!f.cert_dir.empty()) {
        std::error_code ec;
        if (!fs::is_directory(f.cert_dir, ec))
            throw usage_error(fmt::format("certificate directory {} does not exist", f.cert_dir));
    }

    session s(f.retry_times);
    remote_options options;
    options.registry = registry;
    options.insecure = !f.tls_verify;
    options.credentials = cred;
    http::host_settings tls;
    tls.insecure = !f.tls_verify;
    tls.tls_verify = f.tls_verify;
    tls.cert_dir = f.cert_dir;
    auto& reg = s.open(std::move(options), tls);
    const int checked = s.run([&]() -> asio::awaitable<int> {
        auto r = co_await reg.check_credentials();
        if (r) co_return exit_ok;
        if (r.error().code == errc::unauthorized)
            std::cerr << fmt::format(
                "syncer login: login to {} failed: unauthorized: {}; check the user name "
                "and password\n",
                registry, safe_text(r.error().message));
        else
            std::cerr << fmt::format("syncer login: login to {} failed: {}\n", registry,
                                     safe_text(r.error().message));
        co_return exit_failed;
    });
    if (checked != exit_ok) return checked;

    if (helper) {
        auto stored = store_with_credential_helper(helper->helper, helper->server, cred);
        if (!stored) {
            std::cerr << fmt::format(
                "syncer login: {} accepted the credentials, but storing them failed: {}\n", registry,
                safe_text(stored.error().message));
            return exit_failed;
        }
    } else {
        write_atomically(path, updated);
    }
    std::cout << "Login Succeeded!\n";
    return exit_ok;
}

int run_logout(const login_flags& f) {
    if (f.all == !f.registry.empty())
        throw usage_error("logout: give a REGISTRY, or --all for every registry in the auth file");
    const auto path = auth_file_to_edit(f);
    const auto existing = read_existing(path);
    if (f.all) {
        auto next = auth_file_without_login(existing, path, "");
        if (!next) throw usage_error(safe_text(next.error().message));
        if (!existing.empty()) write_atomically(path, next->text);
        std::cout << "Removed login credentials for all registries\n";
        return exit_ok;
    }
    const auto registry = registry_argument(f.registry);
    const auto helper = helper_for(existing, path, registry);
    bool erased = false;
    if (helper) {
        auto r = erase_with_credential_helper(helper->helper, helper->server);
        if (!r) {
            std::cerr << fmt::format("syncer logout: {}\n", safe_text(r.error().message));
            return exit_failed;
        }
        erased = *r;
    }
    auto next = auth_file_without_login(existing, path, registry);
    if (!next) throw usage_error(safe_text(next.error().message));
    if (next->removed > 0) write_atomically(path, next->text);
    if (!erased && next->removed == 0) {
        std::cerr << fmt::format("syncer logout: not logged in to {}: {} has no entry for it{}\n", registry,
                                 path,
                                 helper ? fmt::format(", nor has docker-credential-{}", helper->helper) : "");
        return exit_failed;
    }
    std::cout << fmt::format("Removed login credentials for {}\n", registry);
    return exit_ok;
}

void add_auth_file_flag(CLI::App& cmd, login_flags& f) {
    cmd.add_option("--authfile", f.auth_file,
                   "The auth file to edit (default: $REGISTRY_AUTH_FILE, else "
                   "${XDG_RUNTIME_DIR}/containers/auth.json, as skopeo)");
}

} // namespace

std::function<int()> add_login_command(CLI::App& app) {
    auto flags = std::make_shared<login_flags>();
    auto* cmd = app.add_subcommand(
        "login", "Check credentials against a registry and store them in the auth file (or its credential "
                 "helper), as skopeo login and docker login do");
    cmd->add_option("REGISTRY", flags->registry, "host[:port]")->required();
    cmd->add_option("--username,-u", flags->username, "The user (asked for on a terminal when left out)");
    cmd->add_option("--password,-p", flags->password,
                    "The password (visible in the process list: prefer --password-stdin)");
    cmd->add_flag("--password-stdin", flags->password_stdin, "Read the password from stdin");
    add_auth_file_flag(*cmd, *flags);
    cmd->add_flag("--tls-verify{true}", flags->tls_verify,
                  "Verify the registry's TLS certificate (=false also allows plain HTTP)");
    cmd->add_option("--cert-dir", flags->cert_dir, "Directory with CA certificates and client certificates");
    cmd->add_option("--retry-times", flags->retry_times, "Retries per request")->check(CLI::Range(0, 100));
    return [flags] { return run_login(*flags); };
}

std::function<int()> add_logout_command(CLI::App& app) {
    auto flags = std::make_shared<login_flags>();
    auto* cmd = app.add_subcommand(
        "logout", "Remove a registry's credentials from the auth file (and its credential helper)");
    cmd->add_option("REGISTRY", flags->registry, "host[:port]");
    cmd->add_flag("--all,-a", flags->all, "Remove every registry's entry from the auth file");
    add_auth_file_flag(*cmd, *flags);
    return [flags] { return run_logout(*flags); };
}

} // namespace syncer
