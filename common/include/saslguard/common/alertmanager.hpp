#pragma once
// Writing to Alertmanager's API v2: silences (what the Telegram bot's
// "Silence 4h" button creates). Beside the Prometheus client (prometheus.hpp),
// over the same injectable Fetch. Never throws.
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "saslguard/common/prometheus.hpp"
#include "saslguard/common/result.hpp"

namespace saslguard::alertmanager {

struct Silence {
    std::vector<std::pair<std::string, std::string>> matchers;  // label = value (equality)
    std::int64_t starts_at_ms = 0;
    std::int64_t ends_at_ms = 0;
    std::string created_by;
    std::string comment;
};

class Client {
public:
    // `url`: Alertmanager's base URL (http://127.0.0.1:9093); "" = not configured.
    Client(std::string url, prom::Fetch fetch,
           std::chrono::milliseconds timeout = std::chrono::seconds(5));

    // POST /api/v2/silences; returns the silence id. Refused without a URL or
    // without matchers (a silence without matchers would silence everything).
    Result<std::string> create_silence(const Silence& silence);

    // The JSON body create_silence() posts (pure; exposed for tests).
    static std::string silence_json(const Silence& silence);

private:
    std::string m_url;
    prom::Fetch m_fetch;
    std::chrono::milliseconds m_timeout;
};

}  // namespace saslguard::alertmanager
