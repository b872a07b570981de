#pragma once
// The data an incident carries from the worker to notifiers: the alert, the
// evidence the resolver gathered, the policy's decision and the outcomes of any
// automatic actions. Plain values; JSON forms (to_json) are what the store keeps.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "saslguard/receiver/actions.hpp"

namespace saslguard::receiver {

// How the receiver treats an alert: tell only, tell with action buttons, or act then tell.
enum class Mode { Notify, Confirm, Auto };
std::string_view to_string(Mode mode);
std::optional<Mode> mode_from_string(std::string_view name);

// One alert of an Alertmanager webhook (payload version 4), as Alertmanager defines it.
struct Alert {
    std::string status;  // "firing" | "resolved"
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    std::string starts_at;  // RFC 3339, as sent
    std::string ends_at;    // RFC 3339; "0001-01-01T00:00:00Z" while firing
    std::string generator_url;
    std::string fingerprint;

    std::string label(const std::string& name) const {
        auto it = labels.find(name);
        return it == labels.end() ? std::string() : it->second;
    }
    std::string annotation(const std::string& name) const {
        auto it = annotations.find(name);
        return it == annotations.end() ? std::string() : it->second;
    }
};

// The Alertmanager webhook payload, version 4, modelled exactly as Alertmanager
// defines it (notify/webhook: Message = template.Data + version, groupKey,
// truncatedAlerts). Nothing invented, nothing dropped. parse_webhook()
// (webhook.hpp) builds it from a request; an alert the receiver raises itself
// (e.g. a sending guard of the SMTP policy service) can be given the same shape
// (receiver "saslguard", its own body) and enter the same durable intake.
struct WebhookPayload {
    std::string version;  // "4"
    std::string group_key;
    std::uint64_t truncated_alerts = 0;  // alerts Alertmanager left out (max_alerts)
    std::string status;                  // "firing" | "resolved"
    std::string receiver;
    std::map<std::string, std::string> group_labels;
    std::map<std::string, std::string> common_labels;
    std::map<std::string, std::string> common_annotations;
    std::string external_url;
    std::vector<Alert> alerts;
};

// One SASL user's numbers in the evidence window. Unknown values stay nullopt.
struct UserEvidence {
    std::string username;
    std::optional<double> messages;      // accepted in the window (totals when source is exporter)
    std::optional<double> share;         // 0..1 of all authenticated messages in the window
    std::optional<double> distinct_ips;  // postfix_sasl_user_client_ips
    std::optional<double> deliveries;    // delivery attempts in the window
    std::optional<double> bounce_ratio;  // (bounced+deferred+expired)/deliveries, 0..1
    // The account's own usual volume, from the rules' hourly history (Prometheus
    // only): its average messages per hour over the last day, and its busiest
    // hour in the last 8 days (both leave the last hour out, as the rules do).
    std::optional<double> usual_per_hour;
    std::optional<double> busiest_hour;
    // Messages in the window from client networks (IPv4 /24, IPv6 /64) the
    // account had not used in the exporter's memory (30 days by default).
    std::optional<double> new_source_messages;
};

// One client address of the culprit's queued mail, with how many of the
// sampled messages came from it.
struct ClientSource {
    std::string ip;
    double messages = 0;
};

// What the culprit's queued mail looks like, read from the queue files
// (postcat) of the messages that record the culprit's SASL login.
// `subjects` stays empty unless telegram.show_queue_subjects is on (privacy).
struct QueueSample {
    std::size_t messages = 0;                    // queue files of the user read for the sample
    std::size_t recipient_domains = 0;           // distinct recipient domains among them
    std::vector<std::string> subjects;           // distinct, most frequent first, at most 5
    std::vector<ClientSource> client_addresses;  // most messages first
};

struct SenderCount {
    std::string sender;
    double messages = 0;  // queued now
};

// An address the never-block set keeps out of every IP block, and why.
struct ProtectedIp {
    std::string ip;
    std::string reason;  // "a loopback address", "in Postfix's mynetworks (10.0.0.0/8)"
};

// What the resolver found, and what the mail host said about it (the worker
// asks Safeguards). `culprit` is set only when the evidence is conclusive (an
// alert label, or a user above policy.min_share and policy.min_messages), in
// its one form (validate::canonical_login: lowercase).
struct Evidence {
    std::string source = "none";  // label | prometheus | exporter | none
    bool conclusive = false;
    std::optional<std::string> culprit;
    std::string instance;                  // the alert's instance label ("" when absent)
    std::string window;                    // "10m"
    std::optional<double> total_messages;  // all SASL users, in the window
    std::optional<double> queue_depth;     // all queues, now
    std::vector<UserEvidence> top_users;   // highest first; the culprit's entry first when named
    std::vector<SenderCount> top_senders;  // queued senders, highest first
    std::vector<std::string> notes;        // human lines: why inconclusive, fallbacks, errors
    // The account lock_account would act on (the SASL backend's resolution of
    // the culprit: sasldb adds the realm, shadow drops it); "" when not asked.
    std::string account;
    // Corroboration: the culprit's messages in the queue now (by the SASL login
    // recorded in each queue file), counted up to policy.min_queued_messages;
    // nullopt when not read (queue_note says why).
    std::optional<double> queued;
    std::string queue_note;
    // The addresses block_ips would act on (the alert's client_ip, canonical),
    // and those the never-block set keeps out (shown, never blocked).
    std::vector<std::string> client_ips;
    std::vector<ProtectedIp> protected_ips;
    // The culprit's queued mail (nullopt: not read; sample_note says why).
    std::optional<QueueSample> sample;
    std::string sample_note;

    const UserEvidence* culprit_evidence() const {
        if (!culprit) return nullptr;
        for (const auto& u : top_users)
            if (u.username == *culprit) return &u;
        return nullptr;
    }
};

// What the policy decided, and why. `actions` ran automatically when `act`,
// otherwise they are what an admin may confirm (buttons).
struct Decision {
    Mode configured_mode = Mode::Notify;  // from config or the alert's mitigation label
    Mode mode = Mode::Notify;             // after the guards
    bool act = false;
    std::vector<ActionKind> actions;
    std::string reason;  // one line, stored and shown
};

struct ActionResult {
    ActionRequest request;
    ActionOutcome outcome;
};

// An incident as a notifier sees it.
struct IncidentNotice {
    std::int64_t incident_id = 0;
    std::string alertname;
    std::string severity;
    std::string summary;       // annotation
    std::string description;   // annotation
    Alert alert;               // the firing (or resolving) alert
    std::string external_url;  // Alertmanager's externalURL from the webhook
    Evidence evidence;
    Decision decision;
    std::vector<ActionResult> results;  // automatic actions run for this incident (may be empty)
    bool interrupted = false;           // a crash cut actions short: results may be incomplete
};

}  // namespace saslguard::receiver
