#pragma once
// The policy: what to do about an alert, given the evidence. Pure functions (no
// I/O); the worker passes in how many automatic actions ran in the last hour.
//
// Mode: policy.modes[alertname] if configured, else the alert's `mitigation`
// label (notify|confirm|auto), else notify. Guards, in order, each of which turns
// `auto` into `confirm` (the admin is asked instead) and says why:
//   - no culprit named (inconclusive evidence) → notify: there is no one to act on;
//   - the culprit is not a valid SASL login name → notify;
//   - the culprit or its domain is allowlisted → confirm;
//   - the culprit's known message count is below policy.min_messages → confirm;
//   - running policy.auto_actions would exceed policy.max_auto_actions_per_hour → confirm.
// In confirm mode `actions` are the suggested ones (policy.auto_actions).
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/incident.hpp"

namespace saslguard::receiver {

Decision decide(const PolicyConfig& policy, const Alert& alert, const Evidence& evidence,
                int auto_actions_last_hour);

// True when `username` (or the domain after its '@', or a parent domain of it) is allowlisted.
bool is_allowlisted(const PolicyConfig& policy, std::string_view username);

// The SMTP policy service's own alert (SaslUserSendingGuard, containment/):
// the user's mail is already on hold, so in confirm mode the suggestions are
// about that held mail: release it, block the login, delete it. Leaves any
// other alert, and notify/auto decisions, as they are.
void suggest_for_guard(Decision& decision, const Alert& alert, const Evidence& evidence);

// The requests the worker hands the executor when `decision.act`.
std::vector<ActionRequest> plan_actions(const Decision& decision, const Evidence& evidence,
                                        const Config& config, std::int64_t incident_id);

}  // namespace saslguard::receiver
