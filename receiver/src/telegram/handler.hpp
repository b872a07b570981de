#pragma once
// The bot's update handling (private to src/telegram): one UpdateHandler per
// poller thread, over that thread's store session and Bot API client.
//   update_handler.cpp  dispatch, exactly-once claims, who may act
//   callbacks.cpp       button presses: single use, expiry, confirmation,
//                       running the action, the incident message afterwards
//   commands.cpp        /status /top /queue /blocked /help and the mitigation
//                       commands the catalog names
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "saslguard/receiver/telegram/bot.hpp"
#include "saslguard/receiver/telegram/incident_ui.hpp"
#include "saslguard/receiver/telegram/update.hpp"

namespace saslguard::receiver::telegram {

// What a handler uses of the bot.
struct BotContext {
    const TelegramConfig& config;
    const BotOptions& options;
    ActionExecutor& executor;
    CommandBackend& backend;
    const SilenceFn& silencer;
    TelegramStats& stats;
    std::function<void()> wake_outbox;
};

class UpdateHandler {
public:
    UpdateHandler(const BotContext& bot, store::Session& session, BotApi& api)
        : m_bot(bot), m_session(session), m_store(session.telegram()), m_api(api) {}

    // Handles one update once: it is claimed (its update_id recorded and the
    // offset moved past it) in the transaction of its effect, before any action
    // runs; an update claimed before is skipped.
    Result<void> handle(const Update& update);
    // Marks an update handled without acting on it (a malformed one).
    Result<void> skip(std::int64_t update_id);

private:
    // update_handler.cpp
    std::int64_t now() const { return m_bot.options.now(); }
    bool is_admin(std::int64_t user_id) const;
    Result<void> claim(std::int64_t update_id);
    // Records the refusal; true when the user should be told (at most once per
    // BotOptions::refusal_reply_interval: a flood of strangers gets one reply).
    Result<bool> refuse(const TelegramUser& who, const std::string& what);
    // callbacks.cpp
    Result<void> on_press(std::int64_t update_id, const ButtonPress& press);
    Result<void> ask_confirmation(const CallbackRow& cb, std::int64_t chat_id,
                                  std::int64_t message_id);
    std::string perform(const CallbackRow& cb, const TelegramUser& who);
    std::optional<IncidentView> load(std::int64_t incident_id);
    Result<void> record(std::int64_t incident_id, std::optional<LogLine> line,
                        const std::function<void(IncidentView&)>& update);
    void answer(const std::string& query_id, const std::string& text);
    // commands.cpp
    Result<void> on_command(std::int64_t update_id, const Command& command);
    std::string run_command(const Command& command);

    const BotContext& m_bot;
    store::Session& m_session;
    TelegramRepository& m_store;
    BotApi& m_api;
};

// The payload of a plain HTML reply (sendMessage) within Telegram's limit.
std::string reply_payload(std::int64_t chat_id, const std::string& html);

}  // namespace saslguard::receiver::telegram
