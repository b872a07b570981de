#include "saslguard/receiver/policy.hpp"

#include <algorithm>
#include <cctype>

#include "saslguard/common/validate.hpp"
#include "saslguard/receiver/containment/guard_alert.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"

namespace saslguard::receiver {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string join_kinds(const std::vector<ActionKind>& kinds) {
    std::string out;
    for (auto k : kinds) out += (out.empty() ? "" : ", ") + std::string(to_string(k));
    return out;
}

}  // namespace

bool is_allowlisted(const PolicyConfig& policy, std::string_view username) {
    const std::string user = lower(username);
    for (const auto& u : policy.allowlist_users)
        if (lower(u) == user) return true;
    auto at = user.rfind('@');
    if (at == std::string::npos) return false;
    const std::string domain = user.substr(at + 1);
    for (const auto& d : policy.allowlist_domains) {
        const std::string allowed = lower(d);
        if (domain == allowed) return true;
        if (domain.size() > allowed.size() &&
            domain.compare(domain.size() - allowed.size(), allowed.size(), allowed) == 0 &&
            domain[domain.size() - allowed.size() - 1] == '.')
            return true;
    }
    return false;
}

Decision decide(const PolicyConfig& policy, const Alert& alert, const Evidence& evidence,
                int auto_actions_last_hour) {
    Decision d;
    const std::string alertname = alert.label("alertname");
    std::string origin;
    if (auto it = policy.modes.find(alertname); it != policy.modes.end()) {
        d.configured_mode = it->second;
        origin = "policy.modes." + alertname;
    } else if (auto m = mode_from_string(alert.label("mitigation"))) {
        d.configured_mode = *m;
        origin = "the alert's mitigation label";
    } else {
        d.configured_mode = Mode::Notify;
        origin = "the default";
    }
    d.mode = d.configured_mode;
    const std::string mode_text =
        std::string(to_string(d.configured_mode)) + " (from " + origin + ")";

    if (!evidence.culprit) {
        d.mode = Mode::Notify;
        d.reason = mode_text + "; no culprit named, so nothing to act on";
        return d;
    }
    const std::string& user = *evidence.culprit;
    if (!validate::sasl_username(user)) {
        d.mode = Mode::Notify;
        d.reason = mode_text +
                   "; the culprit's name is not a valid SASL login name, so no action is offered";
        return d;
    }
    d.actions = policy.auto_actions;
    if (d.mode == Mode::Notify) {
        d.actions.clear();
        d.reason = mode_text + ": tell only";
        return d;
    }
    if (d.mode == Mode::Confirm) {
        d.reason = mode_text + ": suggest " + join_kinds(d.actions) + " for " + user;
        return d;
    }
    // Auto: every guard below asks an admin instead of acting.
    auto downgrade = [&](const std::string& why) {
        d.mode = Mode::Confirm;
        d.reason = mode_text + "; not acting automatically: " + why;
        return d;
    };
    if (is_allowlisted(policy, user)) return downgrade(user + " is allowlisted");
    if (const auto* u = evidence.culprit_evidence();
        u && u->messages && *u->messages < policy.min_messages)
        return downgrade(user + " sent " + std::to_string(static_cast<long long>(*u->messages)) +
                         " messages, below policy.min_messages " +
                         std::to_string(static_cast<long long>(policy.min_messages)));
    if (d.actions.empty()) return downgrade("policy.auto_actions is empty");
    const int wanted = static_cast<int>(d.actions.size());
    if (auto_actions_last_hour + wanted > policy.max_auto_actions_per_hour)
        return downgrade(std::to_string(auto_actions_last_hour) +
                         " automatic actions in the last hour; " + std::to_string(wanted) +
                         " more would exceed policy.max_auto_actions_per_hour " +
                         std::to_string(policy.max_auto_actions_per_hour));
    d.act = true;
    d.reason = mode_text + ": " + join_kinds(d.actions) + " for " + user +
               " (evidence: " + evidence.source + ")";
    return d;
}

std::vector<ActionRequest> plan_actions(const Decision& decision, const Evidence& evidence,
                                        const Config& config, std::int64_t incident_id) {
    std::vector<ActionRequest> out;
    if (!decision.act || !evidence.culprit) return out;
    for (auto kind : decision.actions) {
        ActionRequest r;
        r.kind = kind;
        r.username = *evidence.culprit;
        // Mail the user queued: its own address as envelope sender (the
        // executor also matches the SASL login recorded in queued messages).
        if (validate::email_address(r.username)) r.senders.push_back(r.username);
        r.incident_id = incident_id;
        r.actor = "auto";
        r.reason = decision.reason;
        r.dry_run = config.mitigation.dry_run;
        // Only what can be undone expires (the catalog says which kinds can).
        const auto* action = mitigation::catalog().find(kind);
        if (config.policy.action_expiry.count() > 0 && action && action->undo)
            r.expires_after = config.policy.action_expiry;
        out.push_back(std::move(r));
    }
    return out;
}

// ---- the SMTP policy service's sending guard -------------------------------------

void suggest_for_guard(Decision& d, const Alert& alert, const Evidence& evidence) {
    if (alert.label("alertname") != containment::kGuardAlertname || d.mode != Mode::Confirm ||
        !evidence.culprit)
        return;
    d.actions = {ActionKind::ReleaseMail, ActionKind::BlockLogin, ActionKind::DeleteMail};
    d.reason = std::string(to_string(d.configured_mode)) +
               ": the sending guard holds the mail of " + *evidence.culprit + "; suggest " +
               join_kinds(d.actions);
}

}  // namespace saslguard::receiver
