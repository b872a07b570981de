#pragma once
// The sending guard's trip as an alert of the receiver's own. It has the shape
// of an Alertmanager webhook (incident.hpp: "an alert the receiver raises
// itself … can be given the same shape") and enters the same durable intake, so
// it gets the same deduplication, worker, policy, incident and notification as
// a Prometheus alert, and a later SaslUserSendingSurge for the same user joins
// its incident (worker.cpp).
//
//   alertname=SaslUserSendingGuard, sasl_username=<canonical login>,
//   severity=critical, mitigation=confirm (policy.modes.SaslUserSendingGuard
//   overrides it, as for any alert)
//
// One alert per user: the fingerprint depends on the login only (as
// Alertmanager's depends on the labels), startsAt is the trip that began the
// episode; the alert resolves when the guard's episode ends (the admin
// released the mail or blocked the login). Pure functions.
#include <chrono>
#include <string>
#include <string_view>

#include "saslguard/receiver/incident.hpp"
#include "saslguard/receiver/smtp_policy/guard.hpp"

namespace saslguard::receiver::containment {

inline constexpr std::string_view kGuardAlertname = "SaslUserSendingGuard";
// The webhook's `receiver`: says the alert did not come through Alertmanager.
inline constexpr std::string_view kGuardReceiver = "saslguard-smtp-policy";

// 16 hex digits, the same for every episode of `user` (canonical login).
std::string guard_fingerprint(std::string_view user);

// The firing alert of a trip that begins an episode; startsAt is the trip's time.
WebhookPayload guard_alert_firing(const smtp_policy::GuardTrip& trip);

// The resolution of the episode (fingerprint, startsAt) of `user`: its incident closes.
WebhookPayload guard_alert_resolved(std::string_view user, std::string_view fingerprint,
                                    std::string_view starts_at,
                                    std::chrono::system_clock::time_point ends_at,
                                    std::string_view why);

// The payload as Alertmanager's webhook v4 JSON (what the intake stores as the
// verbatim body); parse_webhook() reads it back to the same payload.
std::string webhook_json(const WebhookPayload& payload);

}  // namespace saslguard::receiver::containment
