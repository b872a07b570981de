#include "saslguard/receiver/policy.hpp"

#include <algorithm>
#include <cmath>

#include "saslguard/common/format.hpp"
#include "saslguard/common/validate.hpp"
#include "saslguard/receiver/containment/guard_alert.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"

namespace saslguard::receiver {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

bool contains(const std::vector<ActionKind>& v, ActionKind k) {
    return std::find(v.begin(), v.end(), k) != v.end();
}

std::string count_text(double n) {
    return format::fixed(n, 0);
}

bool domain_allowlisted(const PolicyConfig& policy, const std::string& id) {
    auto at = id.rfind('@');
    if (at == std::string::npos) return false;
    const std::string domain = id.substr(at + 1);
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

// The mode the configuration and the alert's label choose, and where it came from.
struct ChosenMode {
    Mode mode = Mode::Notify;
    std::string text;  // "auto (from policy.modes.X)"
};

ChosenMode choose_mode(const PolicyConfig& policy, const Alert& alert) {
    const std::string alertname = alert.label("alertname");
    if (auto it = policy.modes.find(alertname); it != policy.modes.end())
        return {it->second,
                std::string(to_string(it->second)) + " (from policy.modes." + alertname + ")"};
    if (auto m = mode_from_string(alert.label("mitigation"))) {
        if (*m == Mode::Auto && !contains(policy.auto_from_label, alertname))
            return {Mode::Confirm,
                    "confirm (the alert's mitigation label says auto, but " +
                        (alertname.empty() ? std::string("an alert without a name") : alertname) +
                        " is not in policy.auto_from_label)"};
        return {*m, std::string(to_string(*m)) + " (from the alert's mitigation label)"};
    }
    return {Mode::Notify, "notify (from the default)"};
}

}  // namespace

SuggestedActions parse_suggested_actions(std::string_view label) {
    SuggestedActions out;
    while (!label.empty()) {
        auto comma = label.find(',');
        std::string_view item = label.substr(0, comma);
        label = comma == std::string_view::npos ? std::string_view{} : label.substr(comma + 1);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item.empty()) continue;
        auto kind = action_kind_from_string(item);
        const auto* action = kind ? mitigation::catalog().find(*kind) : nullptr;
        if (!action || !action->forward) {
            // Shown in the reason: a label value is attacker-influenced only
            // through the rules, but keep it one short printable line anyway.
            std::string name;
            for (char c : item.substr(0, 40)) name += (c >= 0x21 && c < 0x7f) ? c : '?';
            if (!contains(out.ignored, name)) out.ignored.push_back(name);
            continue;
        }
        if (!contains(out.kinds, *kind)) out.kinds.push_back(*kind);
    }
    return out;
}

bool is_allowlisted(const PolicyConfig& policy, std::string_view username,
                    const AccountOf& account_of) {
    const std::string user = lower(username);
    std::vector<std::string> ids{user};
    if (account_of)
        if (auto account = account_of(user); !account.empty() && account != user)
            ids.push_back(account);
    for (const auto& entry : policy.allowlist_users) {
        const std::string e = lower(entry);
        if (contains(ids, e)) return true;
        if (account_of && contains(ids, account_of(e))) return true;
    }
    for (const auto& id : ids)
        if (domain_allowlisted(policy, id)) return true;
    return false;
}

bool may_act_automatically(const PolicyConfig& policy, const Alert& alert) {
    return choose_mode(policy, alert).mode == Mode::Auto;
}

Decision decide(const PolicyConfig& policy, const Alert& alert, const Evidence& evidence,
                int auto_actions_last_hour, const AccountOf& account_of) {
    Decision d;
    const ChosenMode chosen = choose_mode(policy, alert);
    d.configured_mode = chosen.mode;
    d.mode = d.configured_mode;
    std::string mode_text = chosen.text;

    const SuggestedActions suggested = parse_suggested_actions(alert.label("suggested_actions"));
    if (!suggested.ignored.empty())
        mode_text += "; ignored suggested_actions: " + join(suggested.ignored);

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
    d.actions = suggested.kinds.empty() ? policy.auto_actions : suggested.kinds;
    if (d.mode == Mode::Notify) {
        d.actions.clear();
        d.reason = mode_text + ": tell only";
        return d;
    }
    if (d.mode == Mode::Confirm) {
        d.reason = mode_text + ": suggest " + mitigation::kinds_text(d.actions) + " for " + user;
        return d;
    }
    // Auto: every guard below asks an admin instead of acting.
    auto downgrade = [&](const std::string& why) {
        d.mode = Mode::Confirm;
        d.reason = mode_text + "; not acting automatically: " + why;
        return d;
    };
    if (is_allowlisted(policy, user, account_of)) {
        const std::string account = account_of ? account_of(lower(user)) : std::string();
        return downgrade(user +
                         (account.empty() || account == lower(user)
                              ? std::string()
                              : " (the account " + account + " in the SASL backend)") +
                         " is allowlisted");
    }
    const UserEvidence* u = evidence.culprit_evidence();
    if (!u || !u->messages)
        return downgrade(user + "'s message count is unknown (evidence: " + evidence.source +
                         "), and unknown evidence never acts");
    if (*u->messages < policy.min_messages)
        return downgrade(user + " sent " + count_text(*u->messages) +
                         " messages, below policy.min_messages " + count_text(policy.min_messages));
    // What may run: the suggested kinds the configuration allows automatically.
    std::vector<ActionKind> automatic;
    for (auto k : d.actions)
        if (contains(policy.auto_actions, k)) automatic.push_back(k);
    if (automatic.empty())
        return downgrade(policy.auto_actions.empty()
                             ? std::string("policy.auto_actions is empty")
                             : "none of " + mitigation::kinds_text(d.actions) +
                                   " is in policy.auto_actions");
    // block_ips needs addresses: the alert's client IPs the never-block set left.
    if (evidence.client_ips.empty()) std::erase(automatic, ActionKind::BlockIps);
    if (automatic.empty())
        return downgrade("no client address may be blocked" +
                         (evidence.protected_ips.empty()
                              ? std::string()
                              : " (" + evidence.protected_ips.front().ip + " is never blocked: " +
                                    evidence.protected_ips.front().reason + ")"));
    const int wanted = static_cast<int>(automatic.size());
    if (auto_actions_last_hour + wanted > policy.max_auto_actions_per_hour)
        return downgrade(std::to_string(auto_actions_last_hour) +
                         " automatic actions in the last hour; " + std::to_string(wanted) +
                         " more would exceed policy.max_auto_actions_per_hour " +
                         std::to_string(policy.max_auto_actions_per_hour));
    // Last: the log-derived count must be corroborated by the queue, which a
    // local user writing to syslog cannot forge (docs/SECURITY.md).
    if (policy.min_queued_messages > 0) {
        if (!evidence.queued)
            return downgrade(
                "the queue could not be read to corroborate the log (" +
                (evidence.queue_note.empty() ? std::string("not asked") : evidence.queue_note) +
                ")");
        if (*evidence.queued < policy.min_queued_messages)
            return downgrade("the queue does not corroborate the log: " +
                             count_text(*evidence.queued) + " of " + user +
                             "'s messages are queued (by the SASL login Postfix recorded), "
                             "below policy.min_queued_messages " +
                             count_text(policy.min_queued_messages));
    }
    d.act = true;
    d.actions = automatic;
    d.reason =
        mode_text + ": " + mitigation::kinds_text(d.actions) + " for " + user +
        " (evidence: " + evidence.source +
        (evidence.queued ? ", " + count_text(*evidence.queued) + "+ queued" : std::string()) + ")";
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
        // The user's mail is found by the SASL login recorded in each queued
        // message; no envelope sender is added (another user may use the same).
        if (kind == ActionKind::BlockIps) r.ips = evidence.client_ips;
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
               mitigation::kinds_text(d.actions);
}

}  // namespace saslguard::receiver
