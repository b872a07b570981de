#include "saslguard/receiver/incident_json.hpp"

#include <nlohmann/json.hpp>

namespace saslguard::receiver {
namespace {

using nlohmann::json;

void put(json& j, const char* key, const std::optional<double>& v) {
    if (v) j[key] = *v;
}

std::optional<double> get_opt(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
}

std::string get_str(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json parse(std::string_view text) {
    json j = json::parse(text, nullptr, false);
    return j.is_discarded() ? json::object() : j;
}

}  // namespace

std::string to_json(const Evidence& e) {
    json j = {{"source", e.source},
              {"conclusive", e.conclusive},
              {"instance", e.instance},
              {"window", e.window},
              {"notes", e.notes}};
    if (e.culprit) j["culprit"] = *e.culprit;
    put(j, "total_messages", e.total_messages);
    put(j, "queue_depth", e.queue_depth);
    j["top_users"] = json::array();
    for (const auto& u : e.top_users) {
        json ju = {{"username", u.username}};
        put(ju, "messages", u.messages);
        put(ju, "share", u.share);
        put(ju, "distinct_ips", u.distinct_ips);
        put(ju, "deliveries", u.deliveries);
        put(ju, "bounce_ratio", u.bounce_ratio);
        put(ju, "usual_per_hour", u.usual_per_hour);
        put(ju, "busiest_hour", u.busiest_hour);
        put(ju, "new_source_messages", u.new_source_messages);
        j["top_users"].push_back(std::move(ju));
    }
    j["top_senders"] = json::array();
    for (const auto& s : e.top_senders)
        j["top_senders"].push_back({{"sender", s.sender}, {"messages", s.messages}});
    if (!e.account.empty()) j["account"] = e.account;
    put(j, "queued", e.queued);
    if (!e.queue_note.empty()) j["queue_note"] = e.queue_note;
    j["client_ips"] = e.client_ips;
    j["protected_ips"] = json::array();
    for (const auto& p : e.protected_ips)
        j["protected_ips"].push_back({{"ip", p.ip}, {"reason", p.reason}});
    if (e.sample) {
        json js = {{"messages", e.sample->messages},
                   {"recipient_domains", e.sample->recipient_domains},
                   {"subjects", e.sample->subjects},
                   {"client_addresses", json::array()}};
        for (const auto& c : e.sample->client_addresses)
            js["client_addresses"].push_back({{"ip", c.ip}, {"messages", c.messages}});
        j["sample"] = std::move(js);
    }
    if (!e.sample_note.empty()) j["sample_note"] = e.sample_note;
    // Subjects are attacker-controlled and may hold invalid UTF-8: replace, never throw.
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Evidence evidence_from_json(std::string_view text) {
    json j = parse(text);
    Evidence e;
    if (!j.is_object()) return e;
    e.source = j.value("source", "none");
    e.conclusive = j.value("conclusive", false);
    e.instance = get_str(j, "instance");
    e.window = get_str(j, "window");
    if (j.contains("culprit") && j["culprit"].is_string())
        e.culprit = j["culprit"].get<std::string>();
    e.total_messages = get_opt(j, "total_messages");
    e.queue_depth = get_opt(j, "queue_depth");
    if (j.contains("notes") && j["notes"].is_array())
        for (const auto& n : j["notes"])
            if (n.is_string()) e.notes.push_back(n.get<std::string>());
    if (j.contains("top_users") && j["top_users"].is_array())
        for (const auto& ju : j["top_users"]) {
            if (!ju.is_object()) continue;
            UserEvidence u;
            u.username = get_str(ju, "username");
            u.messages = get_opt(ju, "messages");
            u.share = get_opt(ju, "share");
            u.distinct_ips = get_opt(ju, "distinct_ips");
            u.deliveries = get_opt(ju, "deliveries");
            u.bounce_ratio = get_opt(ju, "bounce_ratio");
            u.usual_per_hour = get_opt(ju, "usual_per_hour");
            u.busiest_hour = get_opt(ju, "busiest_hour");
            u.new_source_messages = get_opt(ju, "new_source_messages");
            e.top_users.push_back(std::move(u));
        }
    if (j.contains("top_senders") && j["top_senders"].is_array())
        for (const auto& js : j["top_senders"])
            if (js.is_object())
                e.top_senders.push_back(
                    {get_str(js, "sender"), get_opt(js, "messages").value_or(0)});
    e.account = get_str(j, "account");
    e.queued = get_opt(j, "queued");
    e.queue_note = get_str(j, "queue_note");
    if (j.contains("client_ips") && j["client_ips"].is_array())
        for (const auto& ip : j["client_ips"])
            if (ip.is_string()) e.client_ips.push_back(ip.get<std::string>());
    if (j.contains("protected_ips") && j["protected_ips"].is_array())
        for (const auto& p : j["protected_ips"])
            if (p.is_object()) e.protected_ips.push_back({get_str(p, "ip"), get_str(p, "reason")});
    if (auto it = j.find("sample"); it != j.end() && it->is_object()) {
        QueueSample s;
        s.messages = static_cast<std::size_t>(get_opt(*it, "messages").value_or(0));
        s.recipient_domains =
            static_cast<std::size_t>(get_opt(*it, "recipient_domains").value_or(0));
        if (auto sub = it->find("subjects"); sub != it->end() && sub->is_array())
            for (const auto& x : *sub)
                if (x.is_string()) s.subjects.push_back(x.get<std::string>());
        if (auto ca = it->find("client_addresses"); ca != it->end() && ca->is_array())
            for (const auto& c : *ca)
                if (c.is_object())
                    s.client_addresses.push_back(
                        {get_str(c, "ip"), get_opt(c, "messages").value_or(0)});
        e.sample = std::move(s);
    }
    e.sample_note = get_str(j, "sample_note");
    return e;
}

std::string actions_to_json(const std::vector<ActionKind>& kinds) {
    json j = json::array();
    for (auto k : kinds) j.push_back(std::string(to_string(k)));
    return j.dump();
}

std::vector<ActionKind> actions_from_json(std::string_view text) {
    std::vector<ActionKind> out;
    json j = parse(text);
    if (!j.is_array()) return out;
    for (const auto& n : j)
        if (n.is_string())
            if (auto k = action_kind_from_string(n.get<std::string>())) out.push_back(*k);
    return out;
}

std::string to_json(const ActionRequest& r) {
    json j = {{"kind", std::string(to_string(r.kind))},
              {"username", r.username},
              {"ips", r.ips},
              {"senders", r.senders},
              {"incident_id", r.incident_id},
              {"actor", r.actor},
              {"reason", r.reason},
              {"dry_run", r.dry_run}};
    if (r.expires_after) j["expires_after_s"] = r.expires_after->count();
    return j.dump();
}

ActionRequest action_request_from_json(std::string_view text) {
    ActionRequest r;
    json j = parse(text);
    if (!j.is_object()) return r;
    if (auto k = action_kind_from_string(get_str(j, "kind"))) r.kind = *k;
    r.username = get_str(j, "username");
    if (j.contains("ips") && j["ips"].is_array())
        for (const auto& s : j["ips"])
            if (s.is_string()) r.ips.push_back(s.get<std::string>());
    if (j.contains("senders") && j["senders"].is_array())
        for (const auto& s : j["senders"])
            if (s.is_string()) r.senders.push_back(s.get<std::string>());
    r.incident_id = j.value("incident_id", std::int64_t{0});
    r.actor = get_str(j, "actor");
    r.reason = get_str(j, "reason");
    r.dry_run = j.value("dry_run", false);
    if (j.contains("expires_after_s") && j["expires_after_s"].is_number_integer())
        r.expires_after = std::chrono::seconds(j["expires_after_s"].get<std::int64_t>());
    return r;
}

std::map<std::string, std::string> string_map_from_json(std::string_view text) {
    std::map<std::string, std::string> out;
    json j = parse(text);
    if (!j.is_object()) return out;
    for (const auto& [k, v] : j.items())
        if (v.is_string()) out[k] = v.get<std::string>();
    return out;
}

}  // namespace saslguard::receiver
