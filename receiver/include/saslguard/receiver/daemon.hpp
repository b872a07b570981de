#pragma once
// saslguard-receiver's command line, as a library function so main.cpp stays
// a one-liner and tests can run it:
//
//   saslguard-receiver --config FILE [--check-config] [--version]
//
// --check-config loads and validates the configuration exactly as a start
// does (one loader, one set of rules) and exits. Exit status: 0 stopped by
// SIGTERM/SIGINT (or the check passed), 1 the configuration or the start
// failed, 2 usage error.
#include <iosfwd>
#include <string>
#include <vector>

namespace saslguard::receiver {

int run_receiver(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace saslguard::receiver
