#pragma once
// The Telegram bot as the receiver app runs it: the bot threads, the notifier the
// worker calls, the data behind /status /top /queue /blocked (the receiver's
// store, the mitigation's blocks table, Prometheus), and the bot's metrics.
//
//   auto tg = TelegramService::start(config, executor);   // when telegram.enabled
//   fanout.add(tg->notifier());
//   …  tg->stop();
//
// Metrics (in the receiver's registry, on its /metrics):
//   saslguard_receiver_telegram_messages_sent_total
//   saslguard_receiver_telegram_messages_failed_total
//   saslguard_receiver_telegram_messages_retried_total
//   saslguard_receiver_telegram_outbox_pending
//   saslguard_receiver_telegram_callbacks_total{result="handled|refused"}
//   saslguard_receiver_telegram_commands_total{result="handled|refused"}
//   saslguard_receiver_telegram_poll_errors_total
//   saslguard_receiver_telegram_poller   (fleet.coordinate) 1 while this receiver polls
#include <memory>
#include <string>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/actions.hpp"
#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/metric_source.hpp"
#include "saslguard/receiver/notifier.hpp"
#include "saslguard/receiver/telegram/bot.hpp"

namespace saslguard::receiver::telegram {

// /status, /top, /queue, /blocked from the receiver's state store (a session
// of its own) and Prometheus (HTTP API). Used from the poller thread only.
class ReceiverCommandBackend final : public CommandBackend {
public:
    // /status and /blocked read what is in force from `blocks` (the same view
    // the Undo buttons render from).
    static Result<std::unique_ptr<ReceiverCommandBackend>> open(
        const Config& config, store::StateStore& store, const mitigation::ActiveBlocks& blocks);
    ~ReceiverCommandBackend() override;
    Result<StatusInfo> status() override;
    Result<std::vector<UserCount>> top_users(std::size_t n) override;
    Result<QueueInfo> queue() override;
    Result<std::vector<BlockInfo>> blocked() override;

private:
    struct Impl;
    explicit ReceiverCommandBackend(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// The bot's counters as metrics for the receiver's registry (read at each scrape).
std::vector<ExternalMetric> metrics_of(const TelegramStats& stats);

class TelegramService {
public:
    // Requires config.telegram.enabled, a bot token and at least one admin chat and user.
    static Result<std::unique_ptr<TelegramService>> start(const Config& config,
                                                          store::StateStore& store,
                                                          ActionExecutor& executor,
                                                          mitigation::ActiveBlocks& blocks);
    ~TelegramService();
    std::shared_ptr<Notifier> notifier() const { return m_notifier; }
    std::vector<ExternalMetric> metrics() const;
    void stop();

private:
    TelegramService() = default;
    std::unique_ptr<fleet::PgTelegramFront> m_front;  // when fleet.coordinate
    std::unique_ptr<ReceiverCommandBackend> m_backend;
    std::unique_ptr<TelegramBot> m_bot;
    std::shared_ptr<Notifier> m_notifier;
};

}  // namespace saslguard::receiver::telegram
