#pragma once
// What the mail host itself says about an alert's culprit, asked by the worker
// before the policy may let anything run automatically (docs/SECURITY.md,
// "Policy and identity" and "Forged log lines"). The mitigation service
// answers it from the same settings, SASL backend and queue it acts on, so the
// guards see exactly what an action would touch:
//   - accounts(): the account each login names in the SASL backend (sasldb adds
//     the realm, saslauthd/shadow drops it), so an allowlist entry protects
//     whatever form an alert names the account in;
//   - protected_ips(): the addresses never blocked (never_block.hpp), so a
//     decision never offers or plans them and says why;
//   - queued_messages(): messages in the queue whose queue file records the
//     login (written by smtpd after AUTH; a local user writing to syslog cannot
//     forge it): the corroboration of log-derived counts;
//   - queue_sample(): what those messages look like (client addresses,
//     recipient domains and, only when asked, subjects) for the admin's message.
// Implementations never throw; failures are values the policy treats as
// "unknown" (which never acts automatically).
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/incident.hpp"

namespace saslguard::receiver {

class Safeguards {
public:
    virtual ~Safeguards() = default;
    // One canonical account per login, in order (a login the backend cannot
    // resolve names itself).
    virtual std::vector<std::string> accounts(const std::vector<std::string>& logins) = 0;
    // (address, why) for each of `ips` (canonical) that must never be blocked.
    virtual Result<std::vector<std::pair<std::string, std::string>>> protected_ips(
        const std::vector<std::string>& ips) = 0;
    // Queued messages recording `login` (canonical) as their SASL login,
    // counted up to `enough`.
    virtual Result<std::size_t> queued_messages(const std::string& login, std::size_t enough) = 0;
    // Up to `max_messages` queued messages recording `login` (canonical),
    // summarised; subjects only when `subjects` (the privacy switch). The
    // default says it cannot (test doubles that do not read a queue).
    virtual Result<QueueSample> queue_sample(const std::string& login, std::size_t max_messages,
                                             bool subjects) {
        (void)login;
        (void)max_messages;
        (void)subjects;
        return make_error("no queue to read");
    }
};

}  // namespace saslguard::receiver
