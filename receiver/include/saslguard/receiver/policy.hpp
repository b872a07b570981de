#pragma once
// The policy: what to do about an alert, given the evidence. Pure functions (no
// I/O); the worker passes in how many automatic actions ran in the last hour,
// and the evidence carries what the mail host said (safeguards.hpp).
//
// Mode: policy.modes[alertname] if configured; else the alert's `mitigation`
// label (notify|confirm|auto) — but `auto` from the label only for alert names
// in policy.auto_from_label, confirm for any other; else notify.
// Actions: the alert's `suggested_actions` label (comma-separated kinds, checked
// against the catalog; unknown or non-forward kinds are ignored and named in the
// reason) when it names any, else policy.auto_actions. Confirm offers them first;
// auto runs those of them that policy.auto_actions allows.
// Guards, in order, each of which turns `auto` into `confirm` (the admin is
// asked instead) and says why:
//   - no culprit named (inconclusive evidence) → notify: there is no one to act on;
//   - the culprit is not a valid SASL login name → notify;
//   - the culprit, or the account the SASL backend resolves it to, is
//     allowlisted (users compared by account too, so `alice` in a sasldb
//     realm and `alice@example.org` are one; domains by the login's and the
//     account's domain);
//   - the culprit's message count is unknown, or below policy.min_messages;
//   - none of the suggested actions is allowed automatically;
//   - running them would exceed policy.max_auto_actions_per_hour;
//   - the log is not corroborated: fewer than policy.min_queued_messages of the
//     culprit's messages (by the SASL login recorded in the queue file) are
//     queued, or the queue could not be read.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/incident.hpp"

namespace saslguard::receiver {

// The account a login names in the SASL backend (canonical); empty function:
// every login names itself.
using AccountOf = std::function<std::string(const std::string& login)>;

Decision decide(const PolicyConfig& policy, const Alert& alert, const Evidence& evidence,
                int auto_actions_last_hour, const AccountOf& account_of = nullptr);

// Whether the mode could end up auto for this alert (configured or label auto):
// only then does the worker ask the queue to corroborate.
bool may_act_automatically(const PolicyConfig& policy, const Alert& alert);

// True when `username` (or the account it resolves to), or the domain after
// its '@', or a parent domain of it, is allowlisted.
bool is_allowlisted(const PolicyConfig& policy, std::string_view username,
                    const AccountOf& account_of = nullptr);

// The `suggested_actions` label: known forward kinds in order (duplicates
// dropped), and the names that were ignored.
struct SuggestedActions {
    std::vector<ActionKind> kinds;
    std::vector<std::string> ignored;
};
SuggestedActions parse_suggested_actions(std::string_view label);

// The SMTP policy service's own alert (SaslUserSendingGuard, containment/):
// the user's mail is already on hold, so in confirm mode the suggestions are
// about that held mail: release it, block the login, delete it. Leaves any
// other alert, and notify/auto decisions, as they are.
void suggest_for_guard(Decision& decision, const Alert& alert, const Evidence& evidence);

// The requests the worker hands the executor when `decision.act`.
std::vector<ActionRequest> plan_actions(const Decision& decision, const Evidence& evidence,
                                        const Config& config, std::int64_t incident_id);

}  // namespace saslguard::receiver
