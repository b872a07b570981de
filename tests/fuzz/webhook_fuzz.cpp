// libFuzzer harness: an Alertmanager webhook body through parse_webhook, the
// parser that sees untrusted bytes straight from the network (after the bearer
// token check). It must never throw: an exception would escape the HTTP handler.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "saslguard/receiver/webhook.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace saslguard::receiver;
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    try {
        auto r = parse_webhook(body);
        if (r && r->alerts.empty()) std::abort();  // contract: at least one alert
        (void)is_rfc3339(body);
    } catch (...) {
        std::abort();
    }
    return 0;
}
