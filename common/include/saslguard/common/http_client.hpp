#pragma once
// A blocking HTTP client over libcurl for the receiver's outbound calls
// (Prometheus API, exporter /metrics, Telegram Bot API, Alertmanager API).
// One HttpClient per thread: it keeps a curl handle for connection reuse and is
// not thread-safe. curl headers do not leak into this header (pimpl).
// Transport failures (refused, timeout, DNS) come back as status 0 with `error`
// set; HTTP errors come back with their status and body. Never throws.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace saslguard {

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    std::string body;
    std::string bearer_token;  // adds "Authorization: Bearer …" when set
    std::chrono::milliseconds timeout{5000};
    std::chrono::milliseconds connect_timeout{2000};
    std::size_t max_response = 16 << 20;  // larger bodies fail with an error
};

struct HttpResponse {
    long status = 0;  // 0: no HTTP answer (see error)
    std::string body;
    std::string content_type;
    std::optional<long> retry_after_s;  // from a Retry-After header, when present
    std::string error;                  // transport error text
    bool too_large = false;             // the body went over max_response (error set)

    bool transport_ok() const { return status != 0; }
    bool ok() const { return status >= 200 && status < 300; }
    // 5xx, 429 and transport errors are worth retrying; other 4xx are not.
    bool retryable() const { return status == 0 || status == 429 || status >= 500; }
};

class HttpClient {
public:
    HttpClient();
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    HttpResponse perform(const HttpRequest& request);

    static std::string url_encode(std::string_view s);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace saslguard
