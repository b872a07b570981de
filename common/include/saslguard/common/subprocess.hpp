#pragma once
// Runs an external command (postmap, postsuper, saslpasswd2, postfix, …) as an
// argv vector: never through a shell, so no value is ever interpreted as shell
// syntax. The child gets its own process group; on timeout the whole group is
// killed with SIGKILL. Output beyond `max_output` bytes per stream is dropped
// (and `output_truncated` set) so a chatty command cannot exhaust memory.
// The caller is still responsible for validating each argument's *meaning*
// (see validate.hpp): argv stops shell injection, not option injection.
#include <sys/types.h>
#include <chrono>
#include <string>
#include <vector>

#include "saslguard/common/result.hpp"

namespace saslguard {

struct ProcessOptions {
    std::chrono::milliseconds timeout{30000};
    std::string stdin_data;              // written to the child's stdin, then closed
    std::size_t max_output = 1 << 20;    // per stream
    std::vector<std::string> extra_env;  // "KEY=VALUE" added to a minimal environment
    bool inherit_env = false;            // false: PATH, LANG=C and extra_env only
};

struct ProcessResult {
    bool started = false;  // false: spawn failed; see `error`
    bool timed_out = false;
    int exit_code = -1;   // valid when exited normally
    int term_signal = 0;  // non-zero when killed by a signal
    bool output_truncated = false;
    std::string out;
    std::string err;
    std::string error;  // spawn failure reason

    bool success() const { return started && !timed_out && term_signal == 0 && exit_code == 0; }
    // One line for logs and audit records: "exit 1: <first stderr line>", "timed out after 30s", …
    std::string describe() const;
};

// argv[0] is looked up in PATH when it has no '/'.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// A long-running child (a log reader such as journalctl, a test's emulator),
// started by the same spawner as run_process: argv only, no shell, its own
// process group, the daemon's blocked signals unblocked. Its stdout (and
// stderr) go where ChildOptions says. stop() signals the whole group and
// reaps it; the destructor stops a child that still runs.
struct ChildOptions {
    enum class Output {
        Inherit,  // the parent's stdout/stderr
        Pipe,     // stdout to a pipe the caller reads (stdout_fd()); stderr inherited
        File,     // stdout and stderr to output_path (created 0644, truncated)
    };
    Output output = Output::Inherit;
    std::string output_path;
    bool inherit_env = true;  // false: PATH, LANG=C and extra_env only (as run_process)
    std::vector<std::string> extra_env;
};

class ChildProcess {
public:
    static Result<ChildProcess> spawn(const std::vector<std::string>& argv,
                                      const ChildOptions& options = {});
    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();

    pid_t pid() const { return m_pid; }
    int stdout_fd() const { return m_stdout; }  // -1 unless Output::Pipe
    // True while the child has not exited (reaps it when it has).
    bool running();
    // Sends `signal` to the child's process group and waits for the child;
    // returns its wait status (-1 when it was already reaped).
    int stop(int signal = 15 /* SIGTERM */);

private:
    ChildProcess(pid_t pid, int stdout_fd) : m_pid(pid), m_stdout(stdout_fd) {}
    pid_t m_pid = -1;
    int m_stdout = -1;
    int m_status = -1;
};

}  // namespace saslguard
