#pragma once
// The decision for one policy request, from memory only (blocks, guard).
//
//   1. client address blocked          → REJECT <client_reject_text>, any state,
//                                         authenticated or not (as the
//                                         check_client_access map does)
//   2. no sasl_username                 → DUNNO (unauthenticated mail is not this
//                                         service's business; logged at debug)
//   3. login blocked                    → REJECT <login_reject_text>, any state
//   4. END-OF-MESSAGE                   → the guard counts the message
//                                         (1 + recipient_count) → HOLD when the
//                                         user is over a limit or already held
//   5. RCPT                             → HOLD when the user is already held
//                                         (counts nothing)
//   6. anything else                    → DUNNO
//
// Why count at END-OF-MESSAGE: recipient_count is only known there, the message
// was really received (a transaction aborted or rejected before DATA is not
// counted), and HOLD there still holds the whole message. Answering HOLD at RCPT
// as well for a user already held costs nothing and keeps holding when only
// smtpd_recipient_restrictions is wired. Blocks are answered in every state so a
// block recorded during a transaction refuses that very message at its end.
//
// Not thread-safe: one decider per policy service thread (the guard and the
// BlockView are shared and thread-safe).
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "saslguard/receiver/smtp_policy/block_view.hpp"
#include "saslguard/receiver/smtp_policy/guard.hpp"
#include "saslguard/receiver/smtp_policy/protocol.hpp"
#include "saslguard/receiver/smtp_policy/settings.hpp"

namespace saslguard::receiver::smtp_policy {

// Injectable clocks (tests drive time by hand).
struct PolicyClock {
    std::function<std::chrono::steady_clock::time_point()> steady;
    std::function<std::chrono::system_clock::time_point()> wall;
    static PolicyClock system();
};

enum class Reason : std::uint8_t {
    NotAuthenticated,  // DUNNO: no sasl_username
    ClientBlocked,     // REJECT
    LoginBlocked,      // REJECT
    GuardTripped,      // HOLD: this message tripped the guard
    GuardHeld,         // HOLD: the user was already held
    Counted,           // DUNNO: END-OF-MESSAGE counted, under the limits
    Exempt,            // DUNNO: END-OF-MESSAGE of an allowlisted/unlimited user
    OtherState,        // DUNNO: a state in which the guard neither counts nor holds
};
std::string_view to_string(Reason r);

struct Verdict {
    Action action = Action::Dunno;
    Reason reason = Reason::OtherState;
    std::string text;  // after the action word (REJECT/HOLD); empty for DUNNO
};

class PolicyDecider {
public:
    // All references must outlive the decider.
    PolicyDecider(const SmtpPolicySettings& settings, const BlockView& blocks, SendingGuard& guard,
                  GuardEvents& events, PolicyClock clock = PolicyClock::system());

    Verdict decide(const PolicyRequest& request);

private:
    const SmtpPolicySettings& m_settings;
    const BlockView& m_blocks;
    SendingGuard& m_guard;
    GuardEvents& m_events;
    PolicyClock m_clock;
    std::string m_login;  // canonical login, reused
};

}  // namespace saslguard::receiver::smtp_policy
