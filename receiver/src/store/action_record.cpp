// An action request as its row of the action log, and back (mitigation_repository.hpp).
#include <nlohmann/json.hpp>

#include "saslguard/receiver/store/mitigation_repository.hpp"

namespace saslguard::receiver::store {

ActionRecord planned_record(const ActionRequest& r, std::int64_t now_ms) {
    ActionRecord a;
    a.incident_id = r.incident_id;
    a.kind = std::string(to_string(r.kind));
    a.target = r.username;
    nlohmann::json params = nlohmann::json::object();
    if (!r.ips.empty()) params["ips"] = r.ips;
    if (!r.senders.empty()) params["senders"] = r.senders;
    if (r.expires_after) params["expires_after_s"] = r.expires_after->count();
    a.params_json = params.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    a.actor = r.actor;
    a.reason = r.reason;
    a.dry_run = r.dry_run;
    a.state = "planned";
    a.created_at = now_ms;
    return a;
}

ActionRequest request_of(const ActionRecord& a) {
    ActionRequest r;
    if (auto k = action_kind_from_string(a.kind)) r.kind = *k;
    r.username = a.target;
    r.incident_id = a.incident_id;
    r.actor = a.actor;
    r.reason = a.reason;
    r.dry_run = a.dry_run;
    r.action_id = a.id;
    auto p = nlohmann::json::parse(a.params_json, nullptr, false);
    if (!p.is_object()) return r;
    auto strings = [&p](const char* key) {
        std::vector<std::string> out;
        if (auto it = p.find(key); it != p.end() && it->is_array())
            for (const auto& v : *it)
                if (v.is_string()) out.push_back(v.get<std::string>());
        return out;
    };
    r.ips = strings("ips");
    r.senders = strings("senders");
    if (auto it = p.find("expires_after_s"); it != p.end() && it->is_number_integer())
        r.expires_after = std::chrono::seconds(it->get<std::int64_t>());
    return r;
}

}  // namespace saslguard::receiver::store
