#pragma once
// Durable webhook intake with group commit.
//
// accept() is called by HTTP handler threads. It hands the parsed payload to one
// writer thread and blocks until that thread has committed it
// (AlertRepository::store_webhooks: the verbatim body and each alert event,
// unique on fingerprint+startsAt+status, so a redelivery only bumps
// `duplicates`). Payloads that arrive while a commit is in flight are written
// together in the next transaction: one fsync for many webhooks. Only after
// accept() returns may the handler answer 200; a crash at any point before that
// loses nothing Alertmanager will not resend.
//
// The door is not only for Alertmanager: an alert the receiver raises itself
// (a WebhookPayload it builds, see incident.hpp) takes the same path and gets
// the same durability, deduplication and worker.
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "saslguard/common/clock.hpp"
#include "saslguard/common/result.hpp"
#include "saslguard/receiver/store/state_store.hpp"

namespace saslguard::receiver {

using store::IntakeResult;

class Intake {
public:
    // Takes its own session (the writer thread is its only user); one opened
    // with Durability::Full makes a 200 mean "on disk".
    explicit Intake(std::unique_ptr<store::Session> session, std::size_t max_batch = 512,
                    Clock clock = wall_clock_ms);
    ~Intake();  // finishes the queued payloads, then stops the writer
    Intake(const Intake&) = delete;
    Intake& operator=(const Intake&) = delete;

    // Called (on the writer thread) after each successful commit; wakes the worker.
    void set_on_commit(std::function<void()> callback);

    // Thread-safe; blocks until committed. Fails when the transaction failed
    // (disk full, I/O error) or the intake is stopping: answer 5xx, Alertmanager retries.
    Result<IntakeResult> accept(const WebhookPayload& payload, std::string_view body);

    // Which of a webhook's alerts this receiver keeps (a fleet: the alerts it
    // owns, fleet/coordination.hpp); an error refuses the whole webhook (5xx).
    using Gate = std::function<Result<WebhookPayload>(const WebhookPayload&)>;
    void set_gate(Gate gate);
    // accept() of what the gate keeps, for Alertmanager's webhooks. The alerts
    // the gate leaves out count as duplicates (another receiver has them).
    Result<IntakeResult> accept_webhook(const WebhookPayload& payload, std::string_view body);

    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace saslguard::receiver
