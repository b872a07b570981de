// libFuzzer harness: a showq byte stream through the incremental ShowqParser.
// The first byte picks the chunk size, so records split across feed() calls at
// every position get exercised, not only whole-buffer parses. Small limits make
// the over-limit paths reachable with small inputs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "saslguard/postfix/showq.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace saslguard::postfix;
    if (size == 0) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    const bool keep = data[0] & 0x80;
    std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

    ShowqOptions opt;
    opt.keep_recipients = keep;
    opt.max_recipients = 4;
    opt.max_field_bytes = 256;
    std::size_t seen = 0;
    ShowqParser parser(
        [&](const QueuedMessage& m) {
            ++seen;
            // The parser passes queue names and ids through unchecked (empty, or a
            // queue Postfix does not have): its consumers validate them
            // (queue_stats counts unknown queues, mitigation uses validate::queue_id).
            // What it guarantees is the recipient cap.
            if (m.recipients.size() > opt.max_recipients) std::abort();
            if (!keep && !m.recipients.empty()) std::abort();
        },
        opt);
    while (!in.empty()) {
        const std::size_t n = in.size() < chunk ? in.size() : chunk;
        auto r = parser.feed(in.substr(0, n));
        in.remove_prefix(n);
        if (!r) break;
    }
    (void)parser.finish();
    if (parser.messages() != seen) std::abort();
    return 0;
}
