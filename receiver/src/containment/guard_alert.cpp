#include "saslguard/receiver/containment/guard_alert.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

#include "saslguard/common/clock.hpp"
#include "saslguard/common/duration.hpp"
#include "saslguard/common/format.hpp"

namespace saslguard::receiver::containment {
namespace {

using nlohmann::json;

constexpr const char* kNotEnded = "0001-01-01T00:00:00Z";  // Alertmanager's endsAt while firing

std::map<std::string, std::string> labels_of(std::string_view user) {
    return {{"alertname", std::string(kGuardAlertname)},
            {"sasl_username", std::string(user)},
            {"severity", "critical"},
            {"mitigation", "confirm"}};
}

WebhookPayload payload_of(Alert alert) {
    WebhookPayload p;
    p.version = "4";
    p.status = alert.status;
    p.receiver = std::string(kGuardReceiver);
    p.group_labels = {{"alertname", std::string(kGuardAlertname)},
                      {"sasl_username", alert.label("sasl_username")}};
    p.group_key = "{}:{alertname=\"" + std::string(kGuardAlertname) + "\", sasl_username=\"" +
                  alert.label("sasl_username") + "\"}";
    p.common_labels = alert.labels;
    p.common_annotations = alert.annotations;
    p.alerts.push_back(std::move(alert));
    return p;
}

std::string window(std::chrono::seconds w) {
    return format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(w));
}

}  // namespace

std::string guard_fingerprint(std::string_view user) {
    // FNV-1a, 64 bits: stable across versions and machines (std::hash is not).
    std::uint64_t h = 1469598103934665603ULL;
    auto mix = [&h](std::string_view s) {
        for (unsigned char c : s) {
            h ^= c;
            h *= 1099511628211ULL;
        }
    };
    mix(kGuardAlertname);
    mix(std::string_view("\xff", 1));
    mix(user);
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
    return out;
}

WebhookPayload guard_alert_firing(const smtp_policy::GuardTrip& t) {
    Alert a;
    a.status = "firing";
    a.labels = labels_of(t.user);
    a.fingerprint = guard_fingerprint(t.user);
    a.starts_at = format::rfc3339_ms(unix_ms(t.at));
    a.ends_at = kNotEnded;
    const bool by_messages = t.exceeded == smtp_policy::GuardLimit::Messages;
    const std::string over =
        by_messages
            ? std::to_string(t.counts.messages) + " messages in " + window(t.message_window) +
                  " (limit " + std::to_string(t.limits.max_messages) + ")"
            : std::to_string(t.counts.recipients) + " recipients in " + window(t.recipient_window) +
                  " (limit " + std::to_string(t.limits.max_recipients) + ")";
    a.annotations["summary"] = "The sending guard holds the mail of " + t.user + ": " + over;
    std::string d =
        "The SMTP policy service answered HOLD from the message over the limit on: this "
        "login's mail goes to Postfix's hold queue (neither delivered nor lost) until an admin "
        "releases it or blocks the login";
    if (t.hold_until)
        d += ", or until " + format::utc_minutes(unix_ms(*t.hold_until)) +
             " when the guard counts afresh (smtp_policy.guard.hold_for)";
    d += ". Counts: " + std::to_string(t.counts.messages) + " messages in " +
         window(t.message_window) + ", " + std::to_string(t.counts.recipients) + " recipients in " +
         window(t.recipient_window) + ".";
    if (!t.client_addresses.empty()) {
        d += " Client addresses:";
        for (std::size_t i = 0; i < t.client_addresses.size(); ++i)
            d += (i ? ", " : " ") + t.client_addresses[i];
        d += ".";
    }
    if (!t.queue_id.empty()) d += " First held message: queue id " + t.queue_id + ".";
    a.annotations["description"] = d;
    return payload_of(std::move(a));
}

WebhookPayload guard_alert_resolved(std::string_view user, std::string_view fingerprint,
                                    std::string_view starts_at,
                                    std::chrono::system_clock::time_point ends_at,
                                    std::string_view why) {
    Alert a;
    a.status = "resolved";
    a.labels = labels_of(user);
    a.fingerprint = std::string(fingerprint);
    a.starts_at = std::string(starts_at);
    a.ends_at = format::rfc3339_ms(unix_ms(ends_at));
    a.annotations["summary"] = "The sending guard no longer holds the mail of " +
                               std::string(user) + ": " + std::string(why);
    return payload_of(std::move(a));
}

std::string webhook_json(const WebhookPayload& p) {
    json alerts = json::array();
    for (const auto& a : p.alerts)
        alerts.push_back({{"status", a.status},
                          {"labels", a.labels},
                          {"annotations", a.annotations},
                          {"startsAt", a.starts_at},
                          {"endsAt", a.ends_at},
                          {"generatorURL", a.generator_url},
                          {"fingerprint", a.fingerprint}});
    json j{{"version", p.version},
           {"groupKey", p.group_key},
           {"truncatedAlerts", p.truncated_alerts},
           {"status", p.status},
           {"receiver", p.receiver},
           {"groupLabels", p.group_labels},
           {"commonLabels", p.common_labels},
           {"commonAnnotations", p.common_annotations},
           {"externalURL", p.external_url},
           {"alerts", alerts}};
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace saslguard::receiver::containment
