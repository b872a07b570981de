// libFuzzer harness: a Bot API answer (getUpdates and every other method)
// through classify_response, the one place the receiver parses what Telegram
// (or whatever answers at api_url) sends back, followed by the shape checks
// poll_once() applies to the update list. The first byte picks the HTTP status
// so every outcome branch (ok, 429/5xx retry, 4xx fatal, network) is reached.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "saslguard/receiver/telegram/bot_api.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace saslguard::receiver::telegram;
    if (size == 0) return 0;
    static const long kStatus[] = {200, 200, 200, 200, 0,   400, 401, 403,
                                   404, 409, 429, 500, 502, 503, 204, 302};
    const long status = kStatus[data[0] % 16];
    std::optional<long> header_retry;
    if (data[0] & 0x10) header_retry = static_cast<long>(data[0]) - 200;
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    try {
        ApiResult r = classify_response(status, body, header_retry, "transport");
        if (r.retry_after_s && *r.retry_after_s < 0) std::abort();
        (void)r.describe();
        if (r.ok()) {
            auto updates = nlohmann::json::parse(r.result_json, nullptr, false);
            if (updates.is_array()) {
                for (const auto& u : updates) {
                    if (!u.is_object() || !u.contains("update_id") ||
                        !u["update_id"].is_number_integer())
                        continue;
                    (void)u["update_id"].get<std::int64_t>();
                }
            }
        }
    } catch (...) {
        std::abort();
    }
    return 0;
}
