#pragma once
// JSON forms of the incident data as the store keeps them (evidence.body,
// decisions.actions, incident_actions.request, alerts.labels). Readers are
// lenient: a missing field keeps its default, so older rows stay readable.
#include <map>
#include <string>
#include <string_view>

#include "saslguard/receiver/incident.hpp"

namespace saslguard::receiver {

std::string to_json(const Evidence& evidence);
Evidence evidence_from_json(std::string_view json);

std::string actions_to_json(const std::vector<ActionKind>& kinds);
std::vector<ActionKind> actions_from_json(std::string_view json);

std::string to_json(const ActionRequest& request);
ActionRequest action_request_from_json(std::string_view json);

std::map<std::string, std::string> string_map_from_json(std::string_view json);

}  // namespace saslguard::receiver
