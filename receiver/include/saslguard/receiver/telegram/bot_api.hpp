#pragma once
// A thin Telegram Bot API client: `POST {base_url}/bot{token}/{method}` with a JSON
// body, over the common HttpClient (libcurl). It classifies every answer so the
// outbox and the poller can decide what to do:
//   ok         2xx and {"ok":true}
//   retryable  transport errors (refused, timeout), 5xx, and 429 — for 429 the wait
//              comes from the JSON `parameters.retry_after` (or a Retry-After header)
//   fatal      every other answer (400 bad request, 401 bad token, 403 bot blocked,
//              404 unknown method): retrying cannot help, the caller reports it.
// The token is part of the URL: it is never logged, and error texts are scrubbed of it.
// One BotApi per thread (HttpClient is not thread-safe). Never throws.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace saslguard {
class HttpClient;
}

namespace saslguard::receiver::telegram {

struct ApiResult {
    enum class Outcome { Ok, Retryable, Fatal };
    Outcome outcome = Outcome::Fatal;
    long http_status = 0;               // 0: no HTTP answer
    long error_code = 0;                // Bot API `error_code` when present
    std::string description;            // Bot API `description` or the transport error
    std::optional<long> retry_after_s;  // flood control: wait at least this long
    std::string result_json;            // the `result` member, serialised (when ok)
    bool too_large = false;             // the answer went over the response cap

    bool ok() const { return outcome == Outcome::Ok; }
    bool retryable() const { return outcome == Outcome::Retryable; }
    // "HTTP 401: Unauthorized", "network: Couldn't connect to server", …
    std::string describe() const;
};

// Classifies one HTTP answer of the Bot API (pure; exposed for tests).
ApiResult classify_response(long http_status, std::string_view body,
                            std::optional<long> header_retry_after,
                            std::string_view transport_error);

class BotApi {
public:
    // base_url: "https://api.telegram.org" or an emulator/stub such as "http://127.0.0.1:9000"
    // (a trailing slash is tolerated).
    BotApi(std::string base_url, std::string token,
           std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~BotApi();
    BotApi(const BotApi&) = delete;
    BotApi& operator=(const BotApi&) = delete;

    // Calls `method` with a JSON object body. `timeout` overrides the default (long polling
    // needs poll_timeout plus a margin).
    ApiResult call(std::string_view method, const std::string& payload_json,
                   std::optional<std::chrono::milliseconds> timeout = std::nullopt);

    const std::string& base_url() const { return m_base_url; }

private:
    std::string m_base_url;
    std::string m_token;
    std::chrono::milliseconds m_timeout;
    std::unique_ptr<HttpClient> m_http;
};

}  // namespace saslguard::receiver::telegram
