#pragma once
// Runs an external command (postmap, postsuper, saslpasswd2, postfix, …) as an
// argv vector: never through a shell, so no value is ever interpreted as shell
// syntax. The child gets its own process group; on timeout the whole group is
// killed with SIGKILL. Output beyond `max_output` bytes per stream is dropped
// (and `output_truncated` set) so a chatty command cannot exhaust memory.
// The caller is still responsible for validating each argument's *meaning*
// (see validate.hpp): argv stops shell injection, not option injection.
#include <chrono>
#include <string>
#include <vector>

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

}  // namespace saslguard
