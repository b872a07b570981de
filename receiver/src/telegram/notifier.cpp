// The Notifier the worker calls: renders the incident and queues its messages
// in the outbox, in one transaction, then wakes the bot's outbox thread.
#include <algorithm>

#include "saslguard/receiver/telegram/bot.hpp"
#include "saslguard/receiver/telegram/incident_ui.hpp"

namespace saslguard::receiver::telegram {

TelegramNotifier::TelegramNotifier(TelegramConfig config, std::unique_ptr<store::Session> session,
                                   TelegramBot* bot, Clock now)
    : m_config(std::move(config)),
      m_session(std::move(session)),
      m_bot(bot),
      m_now(std::move(now)) {}

const mitigation::ActiveBlocks* TelegramNotifier::blocks() const {
    return m_bot ? m_bot->blocks() : nullptr;
}

Result<void> TelegramNotifier::incident_opened(const IncidentNotice& notice) {
    auto tx = m_session->begin();
    if (!tx) return tx.error();
    auto existing = m_session->telegram().load_incident(notice.incident_id);
    if (!existing) return existing.error();
    if (*existing) return (*tx)->commit();  // notified before (at-least-once delivery)
    IncidentView view = view_from_notice(notice, m_config);
    if (auto r = publish_incident(m_session->telegram(), view, blocks(), m_config.admin_chat_ids,
                                  true, m_now(), m_config.button_ttl);
        !r)
        return make_error("telegram: " + r.error().message);
    if (auto c = (*tx)->commit(); !c) return c;
    if (m_bot) m_bot->wake_outbox();
    return {};
}

Result<void> TelegramNotifier::incident_resolved(const IncidentNotice& notice) {
    auto tx = m_session->begin();
    if (!tx) return tx.error();
    auto existing = m_session->telegram().load_incident(notice.incident_id);
    if (!existing) return existing.error();
    std::optional<IncidentView> view;
    if (*existing) view = incident_view_from_json(**existing);
    const bool initial = !view;
    if (!view) view = view_from_notice(notice, m_config);
    if (view->resolved && !initial) return (*tx)->commit();
    view->resolved = true;
    // Nothing left to silence.
    view->offered.erase(std::remove(view->offered.begin(), view->offered.end(), "silence"),
                        view->offered.end());
    if (auto r = publish_incident(m_session->telegram(), *view, blocks(), m_config.admin_chat_ids,
                                  initial, m_now(), m_config.button_ttl);
        !r)
        return make_error("telegram: " + r.error().message);
    if (auto c = (*tx)->commit(); !c) return c;
    if (m_bot) m_bot->wake_outbox();
    return {};
}

}  // namespace saslguard::receiver::telegram
