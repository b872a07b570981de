#pragma once
// Counters of the Telegram bot, updated by its threads and read by the receiver's
// /metrics (see docs/telegram.md for the exported names). Lock-free; read at any time.
#include <atomic>
#include <cstdint>

namespace saslguard::receiver::telegram {

struct TelegramStats {
    std::atomic<std::uint64_t> sent{0};  // Bot API calls from the outbox that succeeded
    std::atomic<std::uint64_t> failed{
        0};  // outbox rows given up (fatal answer or too many attempts)
    std::atomic<std::uint64_t> retried{0};  // attempts that will be retried (5xx, 429, network)
    std::atomic<std::uint64_t> callbacks_handled{0};  // button presses by admins
    std::atomic<std::uint64_t> callbacks_refused{
        0};  // presses refused: not an admin, expired, used, unknown
    std::atomic<std::uint64_t> commands_handled{0};
    std::atomic<std::uint64_t> commands_refused{0};  // not an admin
    std::atomic<std::uint64_t> poll_errors{0};       // getUpdates failures
    std::atomic<std::int64_t> outbox_pending{-1};    // rows waiting; -1 until first counted
};

}  // namespace saslguard::receiver::telegram
