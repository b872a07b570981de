#include "saslguard/common/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

extern char** environ;

namespace saslguard {
namespace {

struct Pipe {
    int fd[2] = {-1, -1};
    bool open() { return ::pipe2(fd, O_CLOEXEC) == 0; }
    void close_end(int i) {
        if (fd[i] >= 0) ::close(fd[i]);
        fd[i] = -1;
    }
    ~Pipe() {
        close_end(0);
        close_end(1);
    }
};

void append_capped(std::string& buf, const char* data, std::size_t n, std::size_t cap,
                   bool& truncated) {
    if (buf.size() >= cap) {
        truncated = truncated || n > 0;
        return;
    }
    std::size_t take = std::min(n, cap - buf.size());
    buf.append(data, take);
    if (take < n) truncated = true;
}

}  // namespace

std::string ProcessResult::describe() const {
    if (!started) return "could not start: " + error;
    if (timed_out) return "timed out (killed)";
    std::string s;
    if (term_signal != 0) {
        s = "killed by signal " + std::to_string(term_signal);
    } else {
        s = "exit " + std::to_string(exit_code);
    }
    std::string_view e = err;
    while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.remove_suffix(1);
    if (!e.empty()) {
        auto nl = e.rfind('\n');
        if (nl != std::string_view::npos) e = e.substr(nl + 1);  // last line is usually the reason
        if (e.size() > 300) e = e.substr(0, 300);
        s += ": ";
        s += e;
    }
    return s;
}

namespace {

// The environment a child gets: the caller's, or a minimal one.
std::vector<std::string> child_env(bool inherit, const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    if (inherit) {
        for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
    } else {
        const char* path = std::getenv("PATH");
        env.emplace_back(std::string("PATH=") + (path ? path : "/usr/sbin:/usr/bin:/sbin:/bin"));
        env.emplace_back("LANG=C");
        env.emplace_back("LC_ALL=C");
    }
    for (const auto& e : extra) env.push_back(e);
    return env;
}

// The one place that starts a process: posix_spawn(p) with `fa` (fd set-up),
// in a new process group, with every signal unblocked and at its default (the
// daemon blocks SIGTERM/SIGINT for its own sigwait and ignores SIGPIPE).
// Returns the pid, or the errno-style error.
Result<pid_t> spawn_child(const std::vector<std::string>& argv, posix_spawn_file_actions_t* fa,
                          std::vector<std::string> env_store) {
    if (argv.empty() || argv[0].empty()) return make_error("empty argv");
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);    // undo the daemon's blocked shutdown signals
    posix_spawnattr_setsigdefault(&attr, &all);  // and any ignored dispositions
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    std::vector<char*> envp;
    for (auto& e : env_store) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = (argv[0].find('/') == std::string::npos)
                 ? posix_spawnp(&pid, args[0], fa, &attr, args.data(), envp.data())
                 : posix_spawn(&pid, args[0], fa, &attr, args.data(), envp.data());
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return make_error(argv[0] + ": " + std::strerror(rc));
    return pid;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
    ProcessResult r;
    if (argv.empty() || argv[0].empty()) {
        r.error = "empty argv";
        return r;
    }
    Pipe in, out, err;
    if (!in.open() || !out.open() || !err.open()) {
        r.error = std::string("pipe: ") + std::strerror(errno);
        return r;
    }

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in.fd[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out.fd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err.fd[1], 2);
    auto spawned = spawn_child(argv, &fa, child_env(options.inherit_env, options.extra_env));
    posix_spawn_file_actions_destroy(&fa);
    if (!spawned) {
        r.error = spawned.error().message;
        return r;
    }
    const pid_t pid = *spawned;
    r.started = true;
    in.close_end(0);
    out.close_end(1);
    err.close_end(1);

    // Feed stdin and drain stdout/stderr together so neither side can deadlock.
    std::size_t written = 0;
    const std::string& input = options.stdin_data;
    if (input.empty())
        in.close_end(1);
    else
        ::fcntl(in.fd[1], F_SETFL, O_NONBLOCK);

    auto deadline = std::chrono::steady_clock::now() + options.timeout;
    char buf[16384];
    while (out.fd[0] >= 0 || err.fd[0] >= 0) {
        pollfd pfd[3];
        int n = 0;
        int idx_out = -1, idx_err = -1, idx_in = -1;
        if (out.fd[0] >= 0) {
            idx_out = n;
            pfd[n++] = {out.fd[0], POLLIN, 0};
        }
        if (err.fd[0] >= 0) {
            idx_err = n;
            pfd[n++] = {err.fd[0], POLLIN, 0};
        }
        if (in.fd[1] >= 0) {
            idx_in = n;
            pfd[n++] = {in.fd[1], POLLOUT, 0};
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            r.timed_out = true;
            break;
        }
        int pr = ::poll(pfd, n, static_cast<int>(std::min<long long>(left.count(), 1000)));
        if (pr < 0 && errno != EINTR) break;
        if (pr <= 0) continue;
        auto drain = [&](int idx, Pipe& p, std::string& dst) {
            if (idx < 0 || !(pfd[idx].revents & (POLLIN | POLLHUP | POLLERR))) return;
            ssize_t k = ::read(p.fd[0], buf, sizeof buf);
            if (k > 0)
                append_capped(dst, buf, static_cast<std::size_t>(k), options.max_output,
                              r.output_truncated);
            else if (k == 0 || (errno != EINTR && errno != EAGAIN))
                p.close_end(0);
        };
        drain(idx_out, out, r.out);
        drain(idx_err, err, r.err);
        if (idx_in >= 0 && (pfd[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t k = ::write(in.fd[1], input.data() + written, input.size() - written);
            if (k > 0) written += static_cast<std::size_t>(k);
            if (k < 0 && errno != EAGAIN && errno != EINTR) in.close_end(1);
            if (written >= input.size()) in.close_end(1);
        }
    }
    in.close_end(1);
    if (r.timed_out) ::kill(-pid, SIGKILL);

    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status))
        r.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        r.term_signal = WTERMSIG(status);
    return r;
}

// ---- ChildProcess ---------------------------------------------------------

Result<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv,
                                         const ChildOptions& options) {
    Pipe out;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (options.output == ChildOptions::Output::Pipe) {
        if (!out.open()) {
            posix_spawn_file_actions_destroy(&fa);
            return make_error(std::string("pipe: ") + std::strerror(errno));
        }
        posix_spawn_file_actions_adddup2(&fa, out.fd[1], 1);
    } else if (options.output == ChildOptions::Output::File) {
        posix_spawn_file_actions_addopen(&fa, 1, options.output_path.c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    auto pid = spawn_child(argv, &fa, child_env(options.inherit_env, options.extra_env));
    posix_spawn_file_actions_destroy(&fa);
    if (!pid) return pid.error();
    out.close_end(1);
    int fd = out.fd[0];
    out.fd[0] = -1;  // now owned by the ChildProcess
    return ChildProcess(*pid, fd);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : m_pid(std::exchange(other.m_pid, -1)),
      m_stdout(std::exchange(other.m_stdout, -1)),
      m_status(other.m_status) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        stop();
        m_pid = std::exchange(other.m_pid, -1);
        m_stdout = std::exchange(other.m_stdout, -1);
        m_status = other.m_status;
    }
    return *this;
}

ChildProcess::~ChildProcess() {
    stop();
}

bool ChildProcess::running() {
    if (m_pid <= 0) return false;
    int status = 0;
    pid_t r = ::waitpid(m_pid, &status, WNOHANG);
    if (r == 0) return true;
    if (r == m_pid) m_status = status;
    m_pid = -1;
    return false;
}

int ChildProcess::stop(int signal) {
    if (m_stdout >= 0) {
        ::close(m_stdout);
        m_stdout = -1;
    }
    if (m_pid <= 0) return m_status;
    ::kill(-m_pid, signal);  // the child's whole process group
    int status = 0;
    while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
    }
    m_pid = -1;
    m_status = status;
    return status;
}

}  // namespace saslguard
