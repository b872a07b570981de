#pragma once
// The Alertmanager webhook payload, version 4, modelled exactly as Alertmanager
// defines it (notify/webhook: Message = template.Data + version, groupKey,
// truncatedAlerts). Nothing invented, nothing dropped.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/incident.hpp"

namespace saslguard::receiver {

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

// Strict: every field above must be present with its JSON type (labels and
// annotations are objects of strings), version must be "4", statuses
// firing|resolved, startsAt/endsAt RFC 3339, fingerprint 1..64 hex digits, at
// least one alert. Unknown extra fields are ignored, so a newer Alertmanager
// that adds one is not refused. The error names the field:
// "alerts[2].labels.instance: expected a string".
Result<WebhookPayload> parse_webhook(std::string_view body);

// YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
bool is_rfc3339(std::string_view s);

}  // namespace saslguard::receiver
