// policy_guard_memory: heap bytes per user the sending guard tracks, measured
// with glibc's mallinfo2 around recording one message for each of N distinct
// logins (N = max_tracked_users), so GuardSettings::max_tracked_users can be
// turned into a memory bound. Also the cost of record_message (ns per call).
//
//   policy_guard_memory [USERS]     (default 50000, the default cap)
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "saslguard/receiver/smtp_policy/guard.hpp"

using namespace saslguard::receiver::smtp_policy;

int main(int argc, char** argv) {
    const std::size_t users = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 50000;
    std::vector<std::string> names;
    names.reserve(users);
    for (std::size_t i = 0; i < users; ++i)
        names.push_back("user" + std::to_string(i) + "@a-typical-domain.example");
    GuardSettings s;
    s.max_tracked_users = users;
    const auto before = mallinfo2().uordblks;
    auto guard = std::make_unique<SendingGuard>(s);
    const auto now = std::chrono::steady_clock::now();
    const auto wall = std::chrono::system_clock::now();
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& n : names) guard->record_message(n, 1, "192.0.2.1", "QID", now, wall);
    const auto t1 = std::chrono::steady_clock::now();
    const auto after = mallinfo2().uordblks;
    // Once every user is known: the steady-state cost of one END-OF-MESSAGE.
    const auto t2 = std::chrono::steady_clock::now();
    for (const auto& n : names) guard->record_message(n, 1, "192.0.2.1", "QID", now, wall);
    const auto t3 = std::chrono::steady_clock::now();
    const double per_user = static_cast<double>(after - before) / static_cast<double>(users);
    auto ns = [&](auto a, auto b) {
        return std::chrono::duration<double, std::nano>(b - a).count() / static_cast<double>(users);
    };
    std::printf(
        "RESULT users=%zu tracked=%zu bytes_per_user=%.0f total_mib=%.1f "
        "insert_ns=%.0f record_ns=%.0f\n",
        users, guard->stats().tracked_users, per_user,
        static_cast<double>(after - before) / (1 << 20), ns(t0, t1), ns(t2, t3));
    return guard->stats().tracked_users == users ? 0 : 1;
}
