#pragma once
// From the sending guard to the receiver's incident flow: the GuardEvents the
// SMTP policy service calls, on its own thread, and a thread of its own that
// does the slow part. The policy thread only appends to a bounded queue and
// notifies a condition variable: it never touches the database, the intake or
// a lock a slow thread holds.
//
// On the guard incidents thread:
//   trip   the user's mail is held: recorded as what it is, a "hold" block of
//          the user in the action log (kind hold_mail, actor "guard"), through
//          the store and ActiveBlocks, so every view of what is in force shows
//          it and the incident message offers ↩ Release held mail; then, when the
//          trip begins an episode, the SaslUserSendingGuard alert
//          (guard_alert.hpp) enters the intake — the same durable door as a
//          webhook — and the worker opens (or joins) the user's incident.
//   held   each held queue id is recorded (guard_holds), tied to the user's
//          incident; if the hold block was lifted (held mail deleted) while
//          the guard still holds the user, it is put back.
//   blocks a change of what is in force: a login (or account) block clears
//          the guard's counts of that user; a hold lifted by another process
//          (saslguardctl) clears it too when it was a release (with
//          release_grace), not when it was a delete. (In this process the
//          ContainmentExecutor clears at the moment of the action.)
//   end    an episode ends — its alert resolves and the incident closes — when
//          the login is blocked, or when no hold of the user is in force and
//          the guard no longer holds the user (mail released, or deleted and
//          the hold ran out). Checked on every change and once a second.
// After a restart the episodes of the open SaslUserSendingGuard incidents are
// taken up again (the guard's counts are gone; held mail stays held).
#include <chrono>
#include <cstdint>
#include <memory>

#include "saslguard/common/clock.hpp"
#include "saslguard/receiver/mitigation/active_blocks.hpp"
#include "saslguard/receiver/smtp_policy/block_view.hpp"
#include "saslguard/receiver/smtp_policy/guard.hpp"
#include "saslguard/receiver/store/state_store.hpp"

namespace saslguard::receiver {
class Intake;
}

namespace saslguard::receiver::containment {

struct GuardIncidentsOptions {
    std::chrono::seconds release_grace{3600};
    // Events waiting for the thread; beyond it held events are dropped (and
    // counted) — never trips, which are one per user episode.
    std::size_t max_queue = 100000;
    std::chrono::milliseconds tick{1000};
    Clock now = wall_clock_ms;
};

struct GuardIncidentsStats {
    std::uint64_t trips = 0;
    std::uint64_t held = 0;            // held messages reported
    std::uint64_t alerts_stored = 0;   // alerts (firing and resolved) the intake committed
    std::uint64_t alerts_failed = 0;   // intake failures (retried)
    std::uint64_t events_dropped = 0;  // held events dropped: queue full
    std::uint64_t holds_recorded = 0;  // hold blocks put in force
};

class GuardIncidents final : public smtp_policy::GuardEvents {
public:
    // `session` is the thread's own; `blocks` and `view` must outlive this.
    GuardIncidents(std::unique_ptr<store::Session> session, mitigation::ActiveBlocks& blocks,
                   const smtp_policy::BlockView& view, GuardIncidentsOptions options = {});
    ~GuardIncidents() override;  // stop()
    GuardIncidents(const GuardIncidents&) = delete;
    GuardIncidents& operator=(const GuardIncidents&) = delete;

    // Takes up the open episodes and starts the thread. `intake` and `guard`
    // must outlive stop().
    void start(Intake& intake, smtp_policy::SendingGuard& guard);
    // Handles what is queued (trips reach the intake), then joins. Idempotent.
    void stop();

    // smtp_policy::GuardEvents: called on the policy service's thread.
    void tripped(const smtp_policy::GuardTrip& trip) override;
    void held(const smtp_policy::HeldMessage& message) override;

    GuardIncidentsStats stats() const;
    // Tests: returns once everything queued before the call is handled.
    void drain();

private:
    struct Impl;
    std::shared_ptr<Impl> m_impl;  // shared with the ActiveBlocks listener
};

}  // namespace saslguard::receiver::containment
