#pragma once
// The Alertmanager webhook, version 4: parsing and validating a request body
// into the WebhookPayload model (incident.hpp). Pure; never throws.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/incident.hpp"

namespace saslguard::receiver {

// Parses a request body into a WebhookPayload (incident.hpp). Strict: every
// field must be present with its JSON type (labels and
// annotations are objects of strings), version must be "4", statuses
// firing|resolved, startsAt/endsAt RFC 3339, fingerprint 1..64 hex digits, at
// least one alert. Unknown extra fields are ignored, so a newer Alertmanager
// that adds one is not refused. The error names the field:
// "alerts[2].labels.instance: expected a string".
Result<WebhookPayload> parse_webhook(std::string_view body);

// YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
bool is_rfc3339(std::string_view s);

}  // namespace saslguard::receiver
