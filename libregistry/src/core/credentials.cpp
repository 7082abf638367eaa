#include "libregistry/core/credentials.hpp"

#include "libregistry/core/reference.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace libregistry {
namespace {

using json = nlohmann::json;

constexpr std::size_t max_auth_file_size = 16 * 1024 * 1024;
constexpr std::size_t max_helper_stdout = 1024 * 1024;
constexpr std::size_t max_helper_stderr = 64 * 1024;
constexpr std::chrono::seconds helper_timeout{30};
// docker-credential-helpers' ErrCredentialsNotFound text; helpers print it and exit 1 for "no entry".
constexpr std::string_view helper_not_found = "credentials not found in native keychain";
// docker stores Docker Hub credentials under its v1 index URL, so helpers know Hub by that name.
constexpr std::string_view docker_hub_server_url = "https://index.docker.io/v1/";
// A helper Username of `<token>` marks Secret as an identity token (docker cli/config/credentials).
constexpr std::string_view identity_token_username = "<token>";

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string_view trim(std::string_view s) noexcept {
    constexpr std::string_view space = " \t\r\n";
    const auto first = s.find_first_not_of(space);
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(space) - first + 1);
}

/// RFC 4648 section 4 base64, padding optional; whitespace and other characters are rejected.
std::optional<std::string> decode_base64(std::string_view text) {
    auto value_of = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    if (text.size() % 4 == 0 && text.ends_with("=="))
        text.remove_suffix(2);
    else if (text.size() % 4 == 0 && text.ends_with('='))
        text.remove_suffix(1);
    if (text.size() % 4 == 1) return std::nullopt;

    std::string out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t bits = 0;
    int count = 0;
    for (char c : text) {
        const int v = value_of(c);
        if (v < 0) return std::nullopt;
        bits = (bits << 6) | static_cast<std::uint32_t>(v);
        if (++count == 4) {
            out.push_back(static_cast<char>((bits >> 16) & 0xff));
            out.push_back(static_cast<char>((bits >> 8) & 0xff));
            out.push_back(static_cast<char>(bits & 0xff));
            bits = 0;
            count = 0;
        }
    }
    if (count == 2) {
        out.push_back(static_cast<char>((bits >> 4) & 0xff));
    } else if (count == 3) {
        out.push_back(static_cast<char>((bits >> 10) & 0xff));
        out.push_back(static_cast<char>((bits >> 2) & 0xff));
    }
    return out;
}

/// `text` as a JSON string literal, for naming keys in messages unambiguously.
std::string quote(std::string_view text) {
    return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string normalize_host(std::string_view host) {
    return normalize_registry(lower(trim(host)));
}

/// An auths/credHelpers key as host[/path]. Keys written as URLs are docker's legacy form, where only the
/// host counts (the path of `https://index.docker.io/v1/` is the API version); bare keys may carry a
/// repository namespace (containers-auth.json(5)).
std::string normalize_key(std::string_view key) {
    key = trim(key);
    bool had_scheme = false;
    if (auto scheme = key.find("://"); scheme != std::string_view::npos) {
        key.remove_prefix(scheme + 3);
        had_scheme = true;
    }
    const auto slash = key.find('/');
    std::string out = normalize_host(key.substr(0, slash));
    if (!had_scheme && slash != std::string_view::npos) {
        auto path = key.substr(slash);
        while (!path.empty() && path.back() == '/')
            path.remove_suffix(1);
        out += path;
    }
    return out;
}

std::string helper_server_url(const std::string& registry) {
    return registry == docker_hub_registry ? std::string(docker_hub_server_url) : registry;
}

/// First line of a helper's output, shortened and made printable for a message.
std::string first_line(std::string_view text) {
    text = trim(text);
    text = text.substr(0, text.find('\n'));
    text = trim(text);
    std::string out;
    for (char c : text.substr(0, 200)) {
        const auto u = static_cast<unsigned char>(c);
        out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
    }
    if (text.size() > 200) out += "...";
    return out;
}

class fd_guard {
public:
    explicit fd_guard(int fd = -1) noexcept : fd_(fd) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() { reset(); }
    int get() const noexcept { return fd_; }
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_;
};

struct process_output {
    std::string out;
    std::string err;
    int status = 0;
};

error helper_error(std::string_view program, std::string_view what) {
    return make_error(errc::credentials_error, fmt::format("credential helper {}: {}", program, what));
}

// Runs `program arg` with `input` on stdin. stdin is a socket rather than a pipe so that a helper which
// exits without reading cannot kill this process with SIGPIPE: send() takes MSG_NOSIGNAL, write() has no
// such flag.
result<process_output> run_process(const std::string& program, const char* arg, std::string_view input) {
    int in_fds[2], out_fds[2], err_fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_fds) != 0)
        return helper_error(program, fmt::format("cannot create a socket: {}", std::strerror(errno)));
    fd_guard in_parent(in_fds[0]), in_child(in_fds[1]);
    if (::pipe2(out_fds, O_CLOEXEC) != 0)
        return helper_error(program, fmt::format("cannot create a pipe: {}", std::strerror(errno)));
    fd_guard out_parent(out_fds[0]), out_child(out_fds[1]);
    if (::pipe2(err_fds, O_CLOEXEC) != 0)
        return helper_error(program, fmt::format("cannot create a pipe: {}", std::strerror(errno)));
    fd_guard err_parent(err_fds[0]), err_child(err_fds[1]);

    posix_spawn_file_actions_t actions;
    if (int rc = ::posix_spawn_file_actions_init(&actions); rc != 0)
        return helper_error(program, std::strerror(rc));
    ::posix_spawn_file_actions_adddup2(&actions, in_child.get(), STDIN_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions, out_child.get(), STDOUT_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions, err_child.get(), STDERR_FILENO);

    std::string arg0 = program;
    std::string arg1 = arg;
    std::array<char*, 3> argv{arg0.data(), arg1.data(), nullptr};
    pid_t pid = -1;
    const int spawn_rc = ::posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    if (spawn_rc == ENOENT) return helper_error(program, "not found on PATH");
    if (spawn_rc != 0) return helper_error(program, fmt::format("cannot start: {}", std::strerror(spawn_rc)));

    in_child.reset();
    out_child.reset();
    err_child.reset();
    for (int fd : {in_parent.get(), out_parent.get(), err_parent.get()})
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

    const auto deadline = std::chrono::steady_clock::now() + helper_timeout;
    auto kill_and_reap = [pid] {
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
    };

    process_output result;
    bool out_overflow = false;
    std::size_t sent = 0;
    if (input.empty()) in_parent.reset();
    auto drain = [](int fd, std::string& into, std::size_t limit, bool& overflow) {
        char buffer[4096];
        for (;;) {
            const auto n = ::read(fd, buffer, sizeof buffer);
            if (n > 0) {
                // Past the limit the data is dropped but still read, so the helper is never blocked on a
                // full pipe and reaches its exit.
                const auto room = limit - std::min(limit, into.size());
                if (static_cast<std::size_t>(n) > room) overflow = true;
                into.append(buffer, std::min(room, static_cast<std::size_t>(n)));
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
            return true; // EOF or a read error: either way nothing more will come
        }
    };

    while (out_parent.get() >= 0 || err_parent.get() >= 0) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            kill_and_reap();
            return helper_error(program, fmt::format("did not finish within {} s", helper_timeout.count()));
        }
        std::array<pollfd, 3> fds{};
        nfds_t count = 0;
        if (in_parent.get() >= 0) fds[count++] = pollfd{in_parent.get(), POLLOUT, 0};
        if (out_parent.get() >= 0) fds[count++] = pollfd{out_parent.get(), POLLIN, 0};
        if (err_parent.get() >= 0) fds[count++] = pollfd{err_parent.get(), POLLIN, 0};
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
        const int ready = ::poll(fds.data(), count, static_cast<int>(wait));
        if (ready < 0 && errno != EINTR) {
            const int saved = errno;
            kill_and_reap();
            return helper_error(program, fmt::format("poll failed: {}", std::strerror(saved)));
        }
        if (ready <= 0) continue;
        for (nfds_t i = 0; i < count; ++i) {
            if (fds[i].revents == 0) continue;
            if (fds[i].fd == in_parent.get()) {
                const auto n = ::send(in_parent.get(), input.data() + sent, input.size() - sent,
                                      MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0) sent += static_cast<std::size_t>(n);
                // A helper that stopped reading (EPIPE) is judged by its exit status instead.
                if (sent == input.size() || (n < 0 && errno != EAGAIN && errno != EINTR)) in_parent.reset();
            } else if (fds[i].fd == out_parent.get()) {
                if (drain(out_parent.get(), result.out, max_helper_stdout, out_overflow)) out_parent.reset();
            } else if (fds[i].fd == err_parent.get()) {
                bool ignored = false;
                if (drain(err_parent.get(), result.err, max_helper_stderr, ignored)) err_parent.reset();
            }
        }
    }
    in_parent.reset();

    // Both outputs are closed; the helper normally exits right after. Poll rather than block so that one
    // which closes its outputs and lingers still meets the deadline.
    for (;;) {
        const pid_t rc = ::waitpid(pid, &result.status, WNOHANG);
        if (rc == pid) break;
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return helper_error(program, fmt::format("cannot wait for it: {}", std::strerror(errno)));
        if (std::chrono::steady_clock::now() >= deadline) {
            kill_and_reap();
            return helper_error(program, fmt::format("did not exit within {} s", helper_timeout.count()));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (out_overflow)
        return helper_error(program, fmt::format("wrote more than {} bytes to stdout", max_helper_stdout));
    return result;
}

} // namespace

result<credential> parse_user_password(std::string_view text) {
    const auto colon = text.find(':');
    credential c;
    c.username = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) c.password = std::string(text.substr(colon + 1));
    if (c.username.empty())
        return make_error(errc::invalid_argument,
                          "credentials must be given as USER[:PASSWORD] with a non-empty USER");
    return c;
}

std::vector<std::string> default_auth_files() {
    std::vector<std::string> candidates;
    auto env = [](const char* name) -> std::string {
        const char* v = std::getenv(name);
        return v ? std::string(v) : std::string();
    };
    if (auto v = env("REGISTRY_AUTH_FILE"); !v.empty()) candidates.push_back(v);
    if (auto v = env("XDG_RUNTIME_DIR"); !v.empty()) candidates.push_back(v + "/containers/auth.json");
    if (auto v = env("DOCKER_CONFIG"); !v.empty()) candidates.push_back(v + "/config.json");
    std::string home = env("HOME");
    if (home.empty()) {
        passwd pw{};
        passwd* found = nullptr;
        std::array<char, 4096> buffer{};
        if (::getpwuid_r(::getuid(), &pw, buffer.data(), buffer.size(), &found) == 0 && found && pw.pw_dir)
            home = pw.pw_dir;
    }
    if (!home.empty()) candidates.push_back(home + "/.docker/config.json");

    std::vector<std::string> files;
    for (auto& path : candidates) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec)) continue;
        if (std::find(files.begin(), files.end(), path) != files.end()) continue;
        files.push_back(std::move(path));
    }
    return files;
}

result<auth_file> auth_file::parse(std::string_view text, std::string path) {
    json doc;
    try {
        doc = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
        // The parser's own message quotes the text around the error, which may be a password.
        return make_error(errc::credentials_error,
                          fmt::format("{}: not valid JSON (near byte {})", path, e.byte));
    } catch (const json::exception&) {
        // A value the parser cannot hold, such as a number beyond a double.
        return make_error(errc::credentials_error,
                          fmt::format("{}: not valid JSON (a number out of range)", path));
    }
    if (!doc.is_object())
        return make_error(errc::credentials_error, fmt::format("{}: not a JSON object", path));

    auth_file file;
    file.path_ = std::move(path);
    auto fail = [&file](std::string_view where, std::string_view what) {
        return make_error(errc::credentials_error, fmt::format("{}: {}: {}", file.path_, where, what));
    };

    if (auto auths = doc.find("auths"); auths != doc.end() && !auths->is_null()) {
        if (!auths->is_object()) return fail("auths", "expected an object");
        for (const auto& item : auths->items()) {
            // Named references, not a structured binding: the lambda below captures `value`.
            const auto& key = item.key();
            const auto& value = item.value();
            const auto where = fmt::format("auths[{}]", quote(key));
            if (!value.is_object()) return fail(where, "expected an object");
            auto string_field = [&](const char* name) -> result<std::string> {
                auto it = value.find(name);
                if (it == value.end() || it->is_null()) return std::string();
                if (!it->is_string()) return fail(fmt::format("{}.{}", where, name), "expected a string");
                return it->get<std::string>();
            };
            auto auth = string_field("auth");
            if (!auth) return auth.error();
            auto username = string_field("username");
            if (!username) return username.error();
            auto password = string_field("password");
            if (!password) return password.error();
            auto identity = string_field("identitytoken");
            if (!identity) return identity.error();

            credential cred;
            if (!auth->empty()) {
                const auto decoded = decode_base64(trim(*auth));
                if (!decoded) return fail(where + ".auth", "not valid base64 \"user:password\"");
                const auto colon = decoded->find(':');
                if (colon == std::string::npos)
                    return fail(where + ".auth", "base64 text has no ':' (expected \"user:password\")");
                cred.username = decoded->substr(0, colon);
                cred.password = decoded->substr(colon + 1);
            } else {
                cred.username = std::move(*username);
                cred.password = std::move(*password);
            }
            cred.identity_token = std::move(*identity);
            // Docker Desktop leaves `{}` under auths for registries whose secrets live in credsStore; such an
            // entry must not hide the helper.
            if (cred.empty()) continue;
            file.auths_.push_back(entry{normalize_key(key), std::move(cred)});
        }
    }

    if (auto helpers = doc.find("credHelpers"); helpers != doc.end() && !helpers->is_null()) {
        if (!helpers->is_object()) return fail("credHelpers", "expected an object");
        for (const auto& [key, value] : helpers->items()) {
            if (!value.is_string())
                return fail(fmt::format("credHelpers[{}]", quote(key)), "expected a string");
            if (value.get_ref<const std::string&>().empty()) continue;
            auto host = normalize_key(key);
            host = host.substr(0, host.find('/'));
            file.cred_helpers_.emplace_back(std::move(host), value.get<std::string>());
        }
    }

    if (auto store = doc.find("credsStore"); store != doc.end() && !store->is_null()) {
        if (!store->is_string()) return fail("credsStore", "expected a string");
        file.creds_store_ = store->get<std::string>();
    }
    return file;
}

result<auth_file> auth_file::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return make_error(errc::credentials_error,
                          fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
    std::string text;
    char buffer[8192];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        text.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (text.size() > max_auth_file_size)
            return make_error(
                errc::credentials_error,
                fmt::format("{}: larger than {} bytes; not an auth file", path, max_auth_file_size));
    }
    if (in.bad()) return make_error(errc::credentials_error, fmt::format("{}: read error", path));
    return parse(text, path);
}

result<std::optional<credential>> auth_file::lookup(std::string_view registry,
                                                    std::string_view repository) const {
    const auto host = normalize_host(registry);

    auto run_helper = [&](const std::string& helper,
                          std::string_view source) -> result<std::optional<credential>> {
        auto r = run_credential_helper(helper, helper_server_url(host));
        if (!r)
            return make_error(errc::credentials_error,
                              fmt::format("{}: {}: {}", path_, source, r.error().message));
        return r;
    };

    // An explicit per-registry helper is the most specific instruction in the file (docker and
    // containers/image both consult it before anything else).
    for (const auto& [helper_host, helper] : cred_helpers_) {
        if (helper_host != host) continue;
        auto r = run_helper(helper, fmt::format("credHelpers[{}]", quote(helper_host)));
        if (!r || *r) return r;
        break;
    }

    // containers-auth.json(5): the longest key that is a path-segment prefix of `registry/repository` wins.
    std::string target = host;
    if (!repository.empty()) {
        target += '/';
        target += repository;
    }
    const entry* best = nullptr;
    for (const auto& e : auths_) {
        const bool matches = target == e.key || (target.starts_with(e.key) && target[e.key.size()] == '/');
        if (matches && (!best || e.key.size() > best->key.size())) best = &e;
    }
    if (best) return std::optional<credential>(best->cred);

    if (!creds_store_.empty()) return run_helper(creds_store_, "credsStore");
    return std::optional<credential>();
}

result<std::optional<credential>> run_credential_helper(std::string_view helper, std::string_view server) {
    const auto program = fmt::format("docker-credential-{}", helper);
    // A slash would turn the helper name into a path to run, and an empty one names no helper.
    if (helper.empty() || helper.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos)
        return make_error(errc::credentials_error,
                          fmt::format("invalid credential helper name {}", quote(helper)));

    auto run = run_process(program, "get", server);
    if (!run) return run.error();
    const auto& out = *run;

    if (!WIFEXITED(out.status) || WEXITSTATUS(out.status) != 0) {
        if (trim(out.out).find(helper_not_found) != std::string_view::npos ||
            trim(out.err).find(helper_not_found) != std::string_view::npos)
            return std::optional<credential>();
        std::string how = WIFEXITED(out.status) ? fmt::format("exit status {}", WEXITSTATUS(out.status))
                                                : fmt::format("killed by signal {}", WTERMSIG(out.status));
        auto detail = first_line(out.err);
        if (detail.empty()) detail = first_line(out.out);
        if (detail.empty()) return helper_error(program, fmt::format("failed ({})", how));
        return helper_error(program, fmt::format("failed ({}): {}", how, detail));
    }

    const auto doc = json::parse(out.out, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        return helper_error(program, "answered with something other than a JSON object");
    auto secret = doc.find("Secret");
    if (secret == doc.end() || !secret->is_string())
        return helper_error(program, "answered without a \"Secret\" string");
    std::string username;
    if (auto it = doc.find("Username"); it != doc.end()) {
        if (!it->is_string())
            return helper_error(program, "answered with a \"Username\" that is not a string");
        username = it->get<std::string>();
    }

    credential cred;
    if (username == identity_token_username) {
        cred.identity_token = secret->get<std::string>();
    } else {
        cred.username = std::move(username);
        cred.password = secret->get<std::string>();
    }
    if (cred.empty()) return std::optional<credential>();
    return std::optional<credential>(std::move(cred));
}

result<std::optional<credential>> lookup_credentials(const std::vector<std::string>& files,
                                                     std::string_view registry, std::string_view repository) {
    for (const auto& path : files) {
        auto file = auth_file::load(path);
        if (!file) return file.error();
        auto found = file->lookup(registry, repository);
        if (!found || *found) return found;
    }
    return std::optional<credential>();
}

} // namespace libregistry
