#include "saslguard/common/alertmanager.hpp"

#include <nlohmann/json.hpp>

#include "saslguard/common/format.hpp"

namespace saslguard::alertmanager {

Client::Client(std::string url, prom::Fetch fetch, std::chrono::milliseconds timeout)
    : m_url(std::move(url)), m_fetch(std::move(fetch)), m_timeout(timeout) {
    while (!m_url.empty() && m_url.back() == '/') m_url.pop_back();
}

std::string Client::silence_json(const Silence& s) {
    nlohmann::json body;
    body["matchers"] = nlohmann::json::array();
    for (const auto& [k, v] : s.matchers)
        body["matchers"].push_back(
            {{"name", k}, {"value", v}, {"isRegex", false}, {"isEqual", true}});
    body["startsAt"] = format::rfc3339(s.starts_at_ms / 1000);
    body["endsAt"] = format::rfc3339(s.ends_at_ms / 1000);
    body["createdBy"] = s.created_by;
    body["comment"] = s.comment;
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::string> Client::create_silence(const Silence& silence) {
    if (m_url.empty()) return make_error("no alertmanager_url configured");
    if (silence.matchers.empty()) return make_error("no labels to match");
    HttpRequest req;
    req.method = "POST";
    req.url = m_url + "/api/v2/silences";
    req.headers = {"Content-Type: application/json"};
    req.body = silence_json(silence);
    req.timeout = m_timeout;
    auto resp = m_fetch(req);
    if (!resp.ok())
        return make_error("Alertmanager " + (resp.status ? "HTTP " + std::to_string(resp.status) +
                                                               ": " + resp.body.substr(0, 200)
                                                         : resp.error));
    auto j = nlohmann::json::parse(resp.body, nullptr, false);
    if (!j.is_object() || !j.contains("silenceID") || !j["silenceID"].is_string())
        return make_error("Alertmanager answered without a silenceID");
    return j["silenceID"].get<std::string>();
}

}  // namespace saslguard::alertmanager
