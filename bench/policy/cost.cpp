// policy_cost: what one policy request costs the service, without the network:
//  - heap bytes per user the sending guard tracks (glibc mallinfo2 around one
//    message for each of N distinct logins, N = max_tracked_users), which
//    turns GuardSettings::max_tracked_users into a memory bound;
//  - CPU per request to parse a real-sized Postfix request and to decide it
//    (blocks + guard over 10,000 users, RCPT and END-OF-MESSAGE alternating).
//
//   policy_cost [USERS]     (default 50000, the default cap)
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "saslguard/common/log.hpp"
#include "saslguard/receiver/smtp_policy/decider.hpp"

using namespace saslguard::receiver::smtp_policy;
using Clock = std::chrono::steady_clock;

namespace {

struct NoEvents : GuardEvents {
    void tripped(const GuardTrip&) override {}
};

// The attribute list and order of Postfix 3.7 (tests/receiver/smtp_policy/fixtures).
std::string request(bool eom, int user, int n) {
    const std::string login = "user" + std::to_string(user) + "@bench.test";
    return "request=smtpd_access_policy\nprotocol_state=" +
           std::string(eom ? "END-OF-MESSAGE" : "RCPT") +
           "\nprotocol_name=ESMTP\nclient_address=192.0.2." + std::to_string(user % 250 + 1) +
           "\nclient_name=client.bench.test\nclient_port=40000\nreverse_client_name=client.bench."
           "test\nserver_address=127.0.0.1\nserver_port=587\nhelo_name=client.bench.test\nsender=" +
           login + "\nrecipient=rcpt@remote.example\nrecipient_count=" + (eom ? "1" : "0") +
           "\nqueue_id=" + (eom ? "4A" + std::to_string(1000000 + n) : "") +
           "\ninstance=" + std::to_string(n) +
           ".6b0cc64a.5fb35.0\nsize=1234\netrn_domain=\nstress=\nsasl_method=" +
           "PLAIN\nsasl_username=" + login +
           "\nsasl_sender=\nccert_subject=\nccert_issuer=\nccert_fingerprint=\n"
           "ccert_pubkey_fingerprint=\nencryption_protocol=\nencryption_cipher=\n"
           "encryption_keysize=0\npolicy_context=\n\n";
}

double ns_per(Clock::time_point a, Clock::time_point b, std::size_t n) {
    return std::chrono::duration<double, std::nano>(b - a).count() / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
    saslguard::log::set_level(saslguard::log::Level::Error);
    const std::size_t users = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 50000;

    // Memory per tracked user.
    std::vector<std::string> names;
    names.reserve(users);
    for (std::size_t i = 0; i < users; ++i)
        names.push_back("user" + std::to_string(i) + "@a-typical-domain.example");
    GuardSettings gs;
    gs.max_tracked_users = users;
    const auto before = mallinfo2().uordblks;
    auto guard = std::make_unique<SendingGuard>(gs);
    const auto now = Clock::now();
    const auto wall = std::chrono::system_clock::now();
    for (const auto& n : names) guard->record_message(n, 1, "192.0.2.1", "QID", now, wall);
    const auto after = mallinfo2().uordblks;
    const double per_user = static_cast<double>(after - before) / static_cast<double>(users);
    const auto tracked = guard->stats().tracked_users;
    guard.reset();

    // CPU per request: three passes over 40,000 requests; the last is reported
    // (the first inserts the 10,000 users).
    SmtpPolicySettings settings;
    BlockSet blocks;
    blocks.block_login("someone.else@bench.test");
    NoEvents events;
    SendingGuard g(settings.guard);
    PolicyDecider decider(settings, blocks, g, events);
    std::vector<std::string> reqs;
    for (int i = 0; i < 40000; ++i) reqs.push_back(request(i % 2 == 1, (i / 2) % 10000, i));
    RequestParser parser;
    double parse_ns = 0;
    double decide_ns = 0;
    std::size_t held = 0;
    for (int pass = 0; pass < 3; ++pass) {
        const auto t0 = Clock::now();
        for (const auto& r : reqs) parser.feed(r);
        const auto t1 = Clock::now();
        for (const auto& r : reqs) {
            parser.feed(r);
            held += decider.decide(parser.request()).action == Action::Hold;
        }
        const auto t2 = Clock::now();
        parse_ns = ns_per(t0, t1, reqs.size());
        decide_ns = ns_per(t1, t2, reqs.size()) - parse_ns;
    }
    std::printf(
        "RESULT users=%zu tracked=%zu bytes_per_user=%.0f total_mib=%.1f parse_ns=%.0f "
        "decide_ns=%.0f held=%zu\n",
        users, tracked, per_user, static_cast<double>(after - before) / (1 << 20), parse_ns,
        decide_ns, held);
    return tracked == users ? 0 : 1;
}
