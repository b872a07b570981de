#pragma once
// SMTP-time containment in saslguard-receiver (docs/policy-service.md): the
// SMTP policy service (smtp_policy/) wired to the receiver.
//
//   ActiveBlocks ──► ActiveBlocksView ──► SmtpPolicyService ◄── Postfix (check_policy_service)
//                                              │ GuardEvents (policy thread: enqueue only)
//                                              ▼
//                                        GuardIncidents ──► Intake ──► worker ──► Telegram
//   worker, Telegram ──► ContainmentExecutor ──► mitigation (and SendingGuard::clear)
//
// create() builds everything without listening; executor() is what the worker
// and the Telegram bot act through (release ends the guard's hold with a
// grace, block_login clears it); start() binds the listeners and starts the
// threads — call it once the intake exists, before the worker and the HTTP
// listener start; stop() before the intake and the worker stop.
#include <memory>
#include <string>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/actions.hpp"
#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/metric_source.hpp"
#include "saslguard/receiver/mitigation/active_blocks.hpp"
#include "saslguard/receiver/smtp_policy/guard.hpp"
#include "saslguard/receiver/smtp_policy/server.hpp"
#include "saslguard/receiver/store/state_store.hpp"

namespace saslguard::receiver {
class Intake;
}

namespace saslguard::receiver::containment {

// The executor admins and auto mode act through while the guard runs: a
// release_mail first ends the guard's hold of the user (with release_grace, so
// a legitimate bulk sender goes on; before the release, so nothing the guard
// holds in between stays behind), a block_login then clears the user's counts.
// Everything else goes to `inner` unchanged.
class ContainmentExecutor final : public ActionExecutor {
public:
    ContainmentExecutor(ActionExecutor& inner, smtp_policy::SendingGuard& guard,
                        std::chrono::seconds release_grace, bool dry_run);
    ActionOutcome execute(const ActionRequest& request) override;

private:
    ActionExecutor& m_inner;
    smtp_policy::SendingGuard& m_guard;
    std::chrono::seconds m_grace;
    bool m_dry_run;
};

class Containment {
public:
    // `config.smtp_policy.service.enabled` must be true. References must outlive the object.
    static Result<std::unique_ptr<Containment>> create(const Config& config,
                                                       store::StateStore& store,
                                                       mitigation::ActiveBlocks& blocks,
                                                       ActionExecutor& inner);
    ~Containment();  // stop()

    ActionExecutor& executor();
    Result<void> start(Intake& intake);
    void stop();

    smtp_policy::SmtpPolicyService& service();
    // saslguard_policy_* (docs/policy-service.md), read at each /metrics scrape
    // (ReceiverMetrics::add_external); valid while this object lives.
    std::vector<ExternalMetric> metrics() const;

private:
    struct Impl;
    explicit Containment(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

}  // namespace saslguard::receiver::containment
