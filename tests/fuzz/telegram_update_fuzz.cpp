// libFuzzer harness: a Bot API answer (getUpdates and every other method)
// through classify_response, then, for an ok answer, its result through
// parse_updates and parse_update (receiver/src/telegram/update.cpp): every
// byte the receiver reads from Telegram (or whatever answers at api_url) before
// acting. Neither may throw or crash. The first byte picks the HTTP status so
// every outcome branch (ok, 429/5xx retry, 4xx fatal, network) is reached.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "saslguard/receiver/telegram/bot_api.hpp"
#include "saslguard/receiver/telegram/update.hpp"

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
            if (auto updates = parse_updates(r.result_json)) {
                for (const auto& u : *updates) {
                    // An update that parsed names its id; one that did not may.
                    if (u.update && u.update_id != u.update->update_id) std::abort();
                    if (u.update)
                        if (const auto* c = std::get_if<Command>(&u.update->what))
                            if (c->name.find('@') != std::string::npos) std::abort();
                }
            }
        }
        (void)parse_update(body);
    } catch (...) {
        std::abort();
    }
    return 0;
}
