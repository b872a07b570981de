#pragma once
// Every external command the mitigation layer runs goes through a CommandRunner,
// so tests can inject a recording fake and prove which argv vectors (and stdin)
// would reach postmap, postsuper, saslpasswd2, usermod, … for hostile input.
#include <string>
#include <vector>

#include "saslguard/common/subprocess.hpp"

namespace saslguard::receiver::mitigation {

class CommandRunner {
public:
    virtual ~CommandRunner() = default;
    // Contract as run_process: argv only, no shell, killed on timeout. Never throws.
    virtual ProcessResult run(const std::vector<std::string>& argv,
                              const ProcessOptions& options) = 0;
};

// The real thing: saslguard::run_process.
class SystemCommandRunner final : public CommandRunner {
public:
    ProcessResult run(const std::vector<std::string>& argv,
                      const ProcessOptions& options) override {
        return run_process(argv, options);
    }
};

// "postmap -c /etc/postfix hash:/x: exit 1: fatal: …" — for error messages and audit rows.
std::string describe_failure(const std::vector<std::string>& argv, const ProcessResult& result);

}  // namespace saslguard::receiver::mitigation
