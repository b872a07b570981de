#pragma once
// Alerts and incidents: the webhooks as received, one row per alert event
// (fingerprint + startsAt + status), the incidents they open, the evidence and
// the policy's decision. Owned by this repository: nobody else writes SQL
// against webhooks, alerts, incidents, evidence or decisions.
//
// Every write joins the caller's transaction (Session::begin) when there is
// one, and otherwise runs in a transaction of its own. Nothing throws.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/incident.hpp"

namespace saslguard::receiver::store {

// One webhook to store: the parsed payload and its body, verbatim.
struct IncomingWebhook {
    const WebhookPayload* payload = nullptr;
    std::string_view body;
};

struct IntakeResult {
    std::int64_t webhook_id = 0;
    int new_firing = 0;
    int new_resolved = 0;
    int duplicates = 0;
};

// Where an alert event is in the worker's hands (docs/receiver.md).
enum class EventState { Pending, Decided, Done };

// One stored alert event.
struct AlertEvent {
    std::int64_t id = 0;
    std::int64_t webhook_id = 0;
    EventState state = EventState::Pending;
    Alert alert;
    std::string external_url;  // the webhook's externalURL, kept with the event
};

// An incident as stored: its evidence and the decision taken.
struct StoredIncident {
    std::int64_t id = 0;
    Evidence evidence;
    Decision decision;
    // The event asked about joined this incident (opened by another alert).
    bool joined = false;
};

// A message the SMTP policy service's sending guard held (answered HOLD).
struct GuardHold {
    std::string queue_id;
    std::string username;  // canonical login
    std::string client_address;
    std::int64_t held_at_ms = 0;
    std::int64_t incident_id = 0;  // 0 while the user has no incident (read side)
};

// An open incident with the identity of the alert that opened it.
struct OpenAlertIncident {
    std::int64_t id = 0;
    std::string fingerprint;
    std::string starts_at;
    std::string username;
};

struct IncidentSummary {
    std::int64_t id = 0;
    std::string alertname;
    std::string username;  // "" when no culprit was named
    std::int64_t opened_at_ms = 0;
};

class AlertRepository {
public:
    virtual ~AlertRepository() = default;

    // --- intake ---------------------------------------------------------------
    // Stores every webhook of the batch and its alert events, all or nothing
    // (one transaction: one fsync for many webhooks). An event already stored
    // (a redelivery) only increments its `duplicates`.
    virtual Result<std::vector<IntakeResult>> store_webhooks(
        const std::vector<IncomingWebhook>& batch, std::int64_t now_ms) = 0;

    // --- worker ---------------------------------------------------------------
    // Events not done yet, oldest first.
    virtual Result<std::vector<AlertEvent>> unfinished(std::size_t limit) = 0;
    // True when the resolution of (fingerprint, startsAt) is stored already.
    virtual Result<bool> resolution_stored(const std::string& fingerprint,
                                           const std::string& starts_at) = 0;
    // Opens the incident of a firing event; nullopt when (fingerprint, startsAt)
    // has one already.
    virtual Result<std::optional<std::int64_t>> open_incident(const AlertEvent& event,
                                                              const Evidence& evidence,
                                                              std::int64_t now_ms) = 0;
    virtual Result<void> record_evidence(std::int64_t incident_id, const Evidence& evidence,
                                         std::int64_t now_ms) = 0;
    virtual Result<void> record_decision(std::int64_t incident_id, const Decision& decision,
                                         std::int64_t now_ms) = 0;
    // Closes the open incidents of `fingerprint` (whatever their startsAt:
    // Alertmanager may resolve a merged alert with an earlier one); returns how many.
    virtual Result<int> close_incidents(const std::string& fingerprint,
                                        std::int64_t resolving_event_id, std::int64_t now_ms) = 0;
    // processed_at is set for Done.
    virtual Result<void> set_event_state(std::int64_t event_id, EventState state,
                                         std::int64_t now_ms) = 0;
    // The incident a firing event opened, or a resolved event closed.
    virtual Result<std::optional<StoredIncident>> incident_of_event(std::int64_t event_id,
                                                                    bool firing) = 0;

    // --- one incident per user ---------------------------------------------------
    // The newest open incident naming `canonical_user` as its culprit (logins
    // compared ASCII-lowercased, the canonical form); nullopt when none.
    virtual Result<std::optional<std::int64_t>> open_incident_of_user(
        const std::string& canonical_user) = 0;
    // The firing event joined `incident_id` (same user) instead of opening its own.
    virtual Result<void> join_incident(std::int64_t incident_id, std::int64_t event_id,
                                       std::int64_t now_ms) = 0;
    // Open incidents opened by an alert named `alertname`, oldest first.
    virtual Result<std::vector<OpenAlertIncident>> open_incidents_of_alert(
        const std::string& alertname) = 0;

    // --- the sending guard's held messages -------------------------------------
    // Records each; one goes to its user's open incident when there is one.
    virtual Result<void> record_guard_holds(const std::vector<GuardHold>& holds) = 0;
    // Ties the user's held messages that have no incident yet to `incident_id`;
    // returns how many.
    virtual Result<int> attach_guard_holds(std::int64_t incident_id,
                                           const std::string& canonical_user) = 0;
    // Oldest first.
    virtual Result<std::vector<GuardHold>> guard_holds_of_incident(std::int64_t incident_id) = 0;

    // --- what the receiver shows --------------------------------------------
    virtual Result<std::int64_t> count_unfinished() = 0;
    virtual Result<std::int64_t> count_open_incidents() = 0;
    // Newest first.
    virtual Result<std::vector<IncidentSummary>> open_incidents(std::size_t limit) = 0;
    // Incidents (open or not) that named `username` as the culprit, newest first.
    virtual Result<std::vector<std::int64_t>> incidents_of_user(const std::string& username,
                                                                std::size_t limit) = 0;
};

}  // namespace saslguard::receiver::store
