#pragma once
// saslguardctl: the mitigation actions from a local shell, through the same
// Mitigator, audit trail and block state as the receiver (docs/mitigation.md).
//
//   saslguardctl --config FILE [options] COMMAND [ARGS]
//
// Exit status: 0 done, 1 the action (or part of `expire`) failed, 2 usage or
// configuration error. Output on stdout, errors on stderr.
#include <iosfwd>
#include <string>
#include <vector>

namespace saslguard::receiver::mitigation {

int run_ctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace saslguard::receiver::mitigation
