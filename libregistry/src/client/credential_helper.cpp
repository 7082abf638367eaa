// Running `docker-credential-NAME get`: a child process with its input, outputs and a deadline. Blocking by
// nature (posix_spawn, poll); credential_helper_runner moves it off the io_context thread.
#include "libregistry/client/credential_source.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace libregistry {
namespace {

namespace asio = boost::asio;

constexpr std::size_t max_helper_stdout = 1024 * 1024;
constexpr std::size_t max_helper_stderr = 64 * 1024;
constexpr std::chrono::seconds helper_timeout{30};

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

asio::awaitable<result<std::optional<credential>>> run_blocking(std::string helper, std::string server) {
    co_return run_credential_helper(helper, server);
}

} // namespace

result<std::optional<credential>> run_credential_helper(std::string_view helper, std::string_view server) {
    auto program = credential_helper_program(helper);
    if (!program) return program.error();
    auto run = run_process(*program, "get", server);
    if (!run) return run.error();
    return parse_credential_helper_answer(*program, run->status, run->out, run->err);
}

result<void> store_with_credential_helper(std::string_view helper, std::string_view server,
                                          const credential& cred) {
    auto program = credential_helper_program(helper);
    if (!program) return program.error();
    nlohmann::json input;
    input["ServerURL"] = std::string(server);
    if (!cred.identity_token.empty()) {
        input["Username"] = "<token>";
        input["Secret"] = cred.identity_token;
    } else {
        input["Username"] = cred.username;
        input["Secret"] = cred.password;
    }
    auto run = run_process(*program, "store", input.dump());
    if (!run) return run.error();
    if (WIFEXITED(run->status) && WEXITSTATUS(run->status) == 0) return result<void>{};
    // The helper's own words for the failure; its output is never the input echoed back by design, and
    // everything printed is scrubbed of known secrets anyway.
    auto failed = parse_credential_helper_answer(*program, run->status, run->out, run->err);
    if (!failed) return failed.error();
    return helper_error(*program, "store failed: it said the credentials were not found");
}

result<bool> erase_with_credential_helper(std::string_view helper, std::string_view server) {
    auto program = credential_helper_program(helper);
    if (!program) return program.error();
    auto run = run_process(*program, "erase", server);
    if (!run) return run.error();
    if (WIFEXITED(run->status) && WEXITSTATUS(run->status) == 0) return true;
    auto failed = parse_credential_helper_answer(*program, run->status, run->out, run->err);
    if (!failed) return failed.error();
    return false;
}

credential_helper_runner::credential_helper_runner(std::size_t threads)
    : pool_(std::make_unique<asio::thread_pool>(std::max<std::size_t>(threads, 1))) {}

credential_helper_runner::~credential_helper_runner() {
    pool_->join();
}

asio::awaitable<result<std::optional<credential>>> credential_helper_runner::get(std::string helper,
                                                                                 std::string server) {
    // The helper runs on the pool; this coroutine resumes on its own executor when it is done.
    co_return co_await asio::co_spawn(
        pool_->get_executor(), run_blocking(std::move(helper), std::move(server)), asio::use_awaitable);
}

} // namespace libregistry
