#include "saslguard/receiver/telegram/bot_api.hpp"

#include <nlohmann/json.hpp>

#include "saslguard/common/http_client.hpp"

namespace saslguard::receiver::telegram {
namespace {

void scrub(std::string& text, const std::string& secret) {
    if (secret.empty()) return;
    for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos))
        text.replace(pos, secret.size(), "<token>");
}

}  // namespace

std::string ApiResult::describe() const {
    if (http_status == 0) return "network: " + description;
    std::string s = "HTTP " + std::to_string(http_status);
    if (!description.empty()) s += ": " + description;
    if (retry_after_s) s += " (retry after " + std::to_string(*retry_after_s) + "s)";
    return s;
}

ApiResult classify_response(long http_status, std::string_view body,
                            std::optional<long> header_retry_after,
                            std::string_view transport_error) {
    ApiResult r;
    r.http_status = http_status;
    if (http_status == 0) {
        r.outcome = ApiResult::Outcome::Retryable;
        r.description = std::string(transport_error);
        return r;
    }
    auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    bool api_ok = false;
    if (j.is_object()) {
        if (auto it = j.find("ok"); it != j.end() && it->is_boolean()) api_ok = it->get<bool>();
        if (auto it = j.find("error_code"); it != j.end() && it->is_number_integer())
            r.error_code = it->get<long>();
        if (auto it = j.find("description"); it != j.end() && it->is_string())
            r.description = it->get<std::string>();
        if (auto p = j.find("parameters"); p != j.end() && p->is_object()) {
            if (auto ra = p->find("retry_after"); ra != p->end() && ra->is_number_integer())
                r.retry_after_s = ra->get<long>();
        }
        if (auto res = j.find("result"); res != j.end()) r.result_json = res->dump();
    }
    if (!r.retry_after_s && header_retry_after) r.retry_after_s = header_retry_after;
    if (r.retry_after_s && *r.retry_after_s < 0) r.retry_after_s = 0;
    if (r.description.empty() && !j.is_object()) {
        // Not a Bot API answer (a proxy error page, the emulator's {"message":…}): keep a short
        // excerpt.
        r.description = std::string(body.substr(0, 200));
    } else if (r.description.empty() && j.is_object() && j.contains("message") &&
               j["message"].is_string()) {
        r.description = j["message"].get<std::string>();
    }

    if (http_status >= 200 && http_status < 300 && api_ok) {
        r.outcome = ApiResult::Outcome::Ok;
    } else if (http_status == 429 || http_status >= 500) {
        r.outcome = ApiResult::Outcome::Retryable;
    } else if (http_status >= 200 && http_status < 300) {
        // 2xx without ok:true is a broken intermediary; worth another try.
        if (r.description.empty()) r.description = "answer without \"ok\":true";
        r.outcome = ApiResult::Outcome::Retryable;
    } else {
        r.outcome = ApiResult::Outcome::Fatal;
    }
    return r;
}

BotApi::BotApi(std::string base_url, std::string token, std::chrono::milliseconds timeout)
    : m_base_url(std::move(base_url)),
      m_token(std::move(token)),
      m_timeout(timeout),
      m_http(std::make_unique<HttpClient>()) {
    while (!m_base_url.empty() && m_base_url.back() == '/') m_base_url.pop_back();
}

BotApi::~BotApi() = default;

ApiResult BotApi::call(std::string_view method, const std::string& payload_json,
                       std::optional<std::chrono::milliseconds> timeout) {
    HttpRequest req;
    req.method = "POST";
    req.url = m_base_url + "/bot" + m_token + "/" + std::string(method);
    req.headers = {"Content-Type: application/json", "Accept: application/json"};
    req.body = payload_json;
    req.timeout = timeout.value_or(m_timeout);
    req.connect_timeout = std::min(req.timeout, std::chrono::milliseconds(5000));
    req.max_response = 4 << 20;
    HttpResponse resp = m_http->perform(req);
    ApiResult r = classify_response(resp.status, resp.body, resp.retry_after_s, resp.error);
    r.too_large = resp.too_large;
    scrub(r.description, m_token);
    return r;
}

}  // namespace saslguard::receiver::telegram
