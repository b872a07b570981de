// libFuzzer harness: bytes from a policy client (a local process, or Postfix
// relaying attacker-chosen HELO/sender/recipient values) through the
// incremental RequestParser and, for each finished request, the decision
// (blocks, guard) and the answer writer, as the server runs them.
// The first byte picks the chunk size (requests split at every position) and
// whether small limits are used (to reach the over-limit paths with small inputs).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "saslguard/common/log.hpp"
#include "saslguard/receiver/smtp_policy/decider.hpp"

using namespace saslguard::receiver::smtp_policy;

namespace {

struct Events : GuardEvents {
    void tripped(const GuardTrip& t) override {
        if (t.user.empty() || t.client_addresses.size() > SendingGuard::kMaxClientAddresses)
            std::abort();
    }
};

// The answer must be exactly one "action=..." line and the empty line.
void check_answer(const Verdict& v) {
    std::string out;
    append_answer(out, v.action, v.text);
    if (out.rfind("action=", 0) != 0 || out.size() < 9 || out.compare(out.size() - 2, 2, "\n\n"))
        std::abort();
    if (out.find('\n') != out.size() - 2 || out.find('\r') != std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    saslguard::log::set_level(saslguard::log::Level::Error);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    ParserLimits limits;
    if (data[0] & 0x80) limits = {64, 8, 256};
    std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

    // Settings and state live for one input: no memory between inputs.
    SmtpPolicySettings settings;
    settings.guard.limits = {3, 5};
    settings.guard.max_tracked_users = 4;
    BlockSet blocks;
    blocks.block_login("blocked");
    blocks.block_client("127.0.0.2");
    Events events;
    SendingGuard guard(settings.guard);
    std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
    PolicyDecider decider(settings, blocks, guard, events,
                          {[&now] { return now += std::chrono::seconds(1); },
                           [] { return std::chrono::system_clock::time_point{}; }});
    RequestParser parser(limits);
    while (!in.empty()) {
        std::string_view piece = in.substr(0, chunk);
        while (!piece.empty()) {
            const auto step = parser.feed(piece);
            if (step.consumed == 0 || step.consumed > piece.size()) std::abort();
            piece.remove_prefix(step.consumed);
            // A partial line is all the parser keeps between calls.
            if (parser.buffered_bytes() > 2 * limits.max_line_bytes + 64) std::abort();
            if (step.status == RequestParser::Status::Complete) {
                if (parser.request().request != "smtpd_access_policy") std::abort();
                check_answer(decider.decide(parser.request()));
            } else if (step.status == RequestParser::Status::Failed) {
                if (to_string(parser.error()) == "unknown") std::abort();
            } else if (!piece.empty()) {
                std::abort();  // NeedMore must have consumed everything
            }
        }
        in.remove_prefix(std::min(chunk, in.size()));
    }
    return 0;
}
