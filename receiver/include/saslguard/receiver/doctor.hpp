#pragma once
// `saslguardctl doctor`: checks what makes a block real, from the receiver's
// own configuration, and says how to fix each failure (docs/doctor.md).
//
//   postfix     every smtpd service that accepts SASL consults the login map and
//               the client map before it permits an authenticated client
//               (postfix/wiring.hpp over `postconf -n/-M/-P`); maps exist and
//               their indexed files are current
//   sasl        the backend that locks accounts is there (sasldb file, usermod,
//               the lock command), and a chrooted smtpd is pointed out
//   prometheus  the saslguard alert rules are loaded; the exporter is scraped
//   alertmanager  a receiver posts to this receiver's /alertmanager and a route
//               uses it
//   telegram    the bot token answers getMe; every admin chat answers getChat
//
// Everything outside is reached through `Probes` (commands and HTTP), so the
// tests drive the same code with recorded answers or against real daemons.
// Secrets (the bot token) never appear in the output.
#include <functional>
#include <string>
#include <vector>

#include "saslguard/common/http_client.hpp"
#include "saslguard/common/subprocess.hpp"
#include "saslguard/receiver/config.hpp"

namespace saslguard::receiver::doctor {

enum class Status { Ok, Warn, Fail };

struct Check {
    std::string area;  // postfix, sasl, prometheus, alertmanager, telegram, store
    Status status = Status::Ok;
    std::string what;  // one line: what was found
    std::string fix;   // how to fix it (commands, config keys); empty when Ok
};

struct Probes {
    std::function<ProcessResult(const std::vector<std::string>& argv)> run;
    std::function<HttpResponse(const HttpRequest& request)> http;
    // Opens the store (migrating it, as the receiver would) and returns its
    // schema version; unset: the store is not checked.
    std::function<Result<int>(const store::StoreSettings& settings)> open_store;
};

// Probes over the real world: run_process (argv only, no shell) and libcurl.
Probes system_probes();

std::vector<Check> run_checks(const Config& config, const Probes& probes);

// The report as the admin reads it: one line per check, the fix under it, and
// a last line with the counts.
std::string render(const std::vector<Check>& checks);

// 0 when nothing failed (warnings allowed), 1 otherwise.
int exit_code(const std::vector<Check>& checks);

}  // namespace saslguard::receiver::doctor
