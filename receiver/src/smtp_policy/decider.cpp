#include "saslguard/receiver/smtp_policy/decider.hpp"

#include "saslguard/common/log.hpp"
#include "saslguard/common/validate.hpp"

namespace saslguard::receiver::smtp_policy {
namespace {

std::string window_text(std::chrono::seconds w) {
    const auto s = w.count();
    if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
    if (s % 60 == 0) return std::to_string(s / 60) + "m";
    return std::to_string(s) + "s";
}

// The HOLD text is only logged by Postfix ("hold: END-OF-MESSAGE from …: <text>"),
// never sent to the client; it names the login so the admin can grep for it.
// A login that would not be safe in a map is left out of it.
// At RCPT there are no counts to give (counts == nullptr).
std::string hold_text(std::string_view login, const GuardCounts* counts, const GuardSettings& s) {
    std::string t = "saslguard sending guard holds mail of ";
    t += validate::sasl_username(login) ? std::string(login) : std::string("this login");
    if (!counts) return t;
    t += " (" + std::to_string(counts->messages) + " messages/" + window_text(s.message_window) +
         ", " + std::to_string(counts->recipients) + " recipients/" +
         window_text(s.recipient_window) + ")";
    return t;
}

}  // namespace

PolicyClock PolicyClock::system() {
    return {[] { return std::chrono::steady_clock::now(); },
            [] { return std::chrono::system_clock::now(); }};
}

std::string_view to_string(Reason r) {
    switch (r) {
        case Reason::NotAuthenticated:
            return "not_authenticated";
        case Reason::ClientBlocked:
            return "client_blocked";
        case Reason::LoginBlocked:
            return "login_blocked";
        case Reason::GuardTripped:
            return "guard_tripped";
        case Reason::GuardHeld:
            return "guard_held";
        case Reason::Counted:
            return "counted";
        case Reason::Exempt:
            return "exempt";
        case Reason::OtherState:
            return "other_state";
    }
    return "other_state";
}

PolicyDecider::PolicyDecider(const SmtpPolicySettings& settings, const BlockView& blocks,
                             SendingGuard& guard, GuardEvents& events, PolicyClock clock)
    : m_settings(settings),
      m_blocks(blocks),
      m_guard(guard),
      m_events(events),
      m_clock(std::move(clock)) {}

Verdict PolicyDecider::decide(const PolicyRequest& r) {
    Verdict v;
    const std::string_view state = to_string(r.state);
    if (!r.client_address.empty()) {
        if (auto ip = validate::canonical_ip(r.client_address);
            ip && m_blocks.client_blocked(*ip)) {
            log::info("policy: blocked client address refused", {{"client", *ip},
                                                                 {"sasl_username", r.sasl_username},
                                                                 {"state", std::string(state)}});
            return {Action::Reject, Reason::ClientBlocked, m_settings.client_reject_text};
        }
    }
    if (r.sasl_username.empty()) {
        if (log::level() <= log::Level::Debug)
            log::debug("policy: not authenticated, DUNNO",
                       {{"client", r.client_address}, {"state", std::string(state)}});
        v.reason = Reason::NotAuthenticated;
        return v;
    }
    canonical_login(r.sasl_username, m_login);
    if (m_blocks.login_blocked(m_login)) {
        log::info("policy: blocked login refused", {{"sasl_username", m_login},
                                                    {"client", r.client_address},
                                                    {"state", std::string(state)}});
        return {Action::Reject, Reason::LoginBlocked, m_settings.login_reject_text};
    }
    if (r.state == ProtocolState::Rcpt) {
        if (m_guard.is_held(m_login, m_clock.steady())) {
            v.action = Action::Hold;
            v.reason = Reason::GuardHeld;
            v.text = hold_text(m_login, nullptr, m_guard.settings());
        }
        return v;
    }
    if (r.state != ProtocolState::EndOfMessage) return v;

    const auto wall = m_clock.wall();
    auto out = m_guard.record_message(m_login, r.recipient_count, r.client_address, r.queue_id,
                                      m_clock.steady(), wall);
    if (out.exempt) {
        v.reason = Reason::Exempt;
        return v;
    }
    if (!out.hold) {
        v.reason = Reason::Counted;
        return v;
    }
    v.action = Action::Hold;
    v.reason = out.trip ? Reason::GuardTripped : Reason::GuardHeld;
    v.text = hold_text(m_login, &out.counts, m_guard.settings());
    if (out.trip) {
        const GuardTrip& t = *out.trip;
        std::string clients;
        for (const auto& a : t.client_addresses) clients += (clients.empty() ? "" : ",") + a;
        log::warn("policy: sending guard tripped, holding the user's mail",
                  {{"sasl_username", m_login},
                   {"exceeded", std::string(to_string(t.exceeded))},
                   {"messages", std::to_string(t.counts.messages)},
                   {"max_messages", std::to_string(t.limits.max_messages)},
                   {"message_window", window_text(t.message_window)},
                   {"recipients", std::to_string(t.counts.recipients)},
                   {"max_recipients", std::to_string(t.limits.max_recipients)},
                   {"recipient_window", window_text(t.recipient_window)},
                   {"clients", clients},
                   {"queue_id", t.queue_id}});
        m_events.tripped(t);
    } else {
        log::info("policy: held", {{"sasl_username", m_login},
                                   {"queue_id", r.queue_id},
                                   {"messages", std::to_string(out.counts.messages)},
                                   {"recipients", std::to_string(out.counts.recipients)}});
    }
    if (!r.queue_id.empty()) m_events.held({m_login, r.queue_id, r.client_address, wall});
    return v;
}

}  // namespace saslguard::receiver::smtp_policy
