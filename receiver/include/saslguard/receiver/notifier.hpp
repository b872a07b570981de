#pragma once
// Telling admins about incidents. The worker calls a Notifier after an incident
// is stored (and after any automatic actions ran), and again when its alert
// resolves. Implementations: LogNotifier (here, always on), the Telegram notifier
// (receiver/src/telegram), FanoutNotifier to call several.
//
// Contract:
// - Called from the worker thread only, one call at a time, never from the HTTP handler.
// - Must not block for long: a notifier that talks to the network should persist
//   the message (outbox) and send it from its own thread.
// - Delivery to the notifier is at least once: after a crash between the call and
//   the worker recording it, the same incident_id may be notified again. Use
//   incident_id to make that harmless.
// - Returns an error only for a failure the worker should log; the worker never
//   retries (retrying is the notifier's job, e.g. from its outbox). Never throws.
#include <memory>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/incident.hpp"

namespace saslguard::receiver {

class Notifier {
public:
    virtual ~Notifier() = default;
    // A new incident: evidence, decision (mode, reason, actions) and, in auto
    // mode, the outcomes of the actions already run.
    virtual Result<void> incident_opened(const IncidentNotice& notice) = 0;
    // The incident's alert resolved; `notice` carries the stored evidence and decision.
    virtual Result<void> incident_resolved(const IncidentNotice& notice) = 0;
    // Another alert naming the same user joined the open incident
    // `notice.incident_id` (one incident per user: the sending guard's alert and
    // a later SaslUserSendingSurge, in either order). `notice` carries the
    // joining alert, its evidence, its decision and the outcomes of its automatic
    // actions. A notifier that shows one message per incident updates that
    // message; the default does nothing (the incident was told already).
    virtual Result<void> incident_joined(const IncidentNotice& notice) {
        (void)notice;
        return {};
    }
};

// Writes one logfmt line per event (level info; warn when an action failed).
class LogNotifier final : public Notifier {
public:
    Result<void> incident_opened(const IncidentNotice& notice) override;
    Result<void> incident_resolved(const IncidentNotice& notice) override;
    Result<void> incident_joined(const IncidentNotice& notice) override;
};

// Calls every notifier in order; one failing does not stop the others.
// Returns the first error.
class FanoutNotifier final : public Notifier {
public:
    void add(std::shared_ptr<Notifier> notifier) { m_notifiers.push_back(std::move(notifier)); }
    Result<void> incident_opened(const IncidentNotice& notice) override;
    Result<void> incident_resolved(const IncidentNotice& notice) override;
    Result<void> incident_joined(const IncidentNotice& notice) override;

private:
    Result<void> each(Result<void> (Notifier::*call)(const IncidentNotice&),
                      const IncidentNotice& notice);
    std::vector<std::shared_ptr<Notifier>> m_notifiers;
};

}  // namespace saslguard::receiver
