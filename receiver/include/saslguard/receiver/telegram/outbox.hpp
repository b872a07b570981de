#pragma once
// Sends the persisted outbox (telegram_outbox) to the Bot API, one row at a time in
// due order, from the bot's own thread: Telegram being slow or down never blocks
// alert intake or mitigation, which only INSERT rows.
//
// For each row:
//   ok          → state 'sent'; for sendMessage of an incident, the message_id is
//                 remembered (telegram_messages) so later edits find the message
//   retryable   → attempts+1, next_attempt_at = now + backoff (exponential from
//                 base_backoff, capped at max_backoff, ±20% jitter); for 429 at least
//                 `retry_after`, and the whole outbox pauses that long (flood control
//                 is per bot); after max_attempts the row becomes 'failed'
//   fatal       → state 'failed' with the error (400/401/403 cannot succeed later)
// An edit whose message is not known yet (its sendMessage still pending) waits like a
// retry. "message is not modified" counts as sent. Rows are never deleted.
#include <chrono>
#include <cstdint>
#include <functional>

#include "saslguard/common/clock.hpp"
#include "saslguard/common/result.hpp"
#include "saslguard/receiver/store/telegram_repository.hpp"
#include "saslguard/receiver/telegram/bot_api.hpp"
#include "saslguard/receiver/telegram/stats.hpp"

namespace saslguard::receiver::telegram {

struct OutboxOptions {
    std::chrono::milliseconds base_backoff{1000};
    std::chrono::milliseconds max_backoff{300000};
    int max_attempts = 30;
};

class OutboxSender {
public:
    OutboxSender(store::TelegramRepository& store, BotApi& api, TelegramStats& stats,
                 OutboxOptions options = {}, Clock now = wall_clock_ms);

    // Sends the oldest due row, if any (and the outbox is not paused by a 429).
    // Returns true when a row was attempted. Errors are store failures only.
    Result<bool> send_one();

    // When the next attempt may happen (unix ms), considering pauses; nullopt: nothing pending.
    Result<std::optional<std::int64_t>> next_wakeup();

    // Refreshes stats.outbox_pending.
    void refresh_pending();

private:
    std::int64_t backoff_ms(std::int64_t attempts, const ApiResult& r);

    store::TelegramRepository& m_store;
    BotApi& m_api;
    TelegramStats& m_stats;
    OutboxOptions m_options;
    Clock m_now;
    std::int64_t m_paused_until = 0;
    std::uint64_t m_rng = 0x9E3779B97F4A7C15ull;
};

}  // namespace saslguard::receiver::telegram
