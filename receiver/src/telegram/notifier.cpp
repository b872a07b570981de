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

Result<void> TelegramNotifier::tell(std::int64_t incident_id, const Decide& decide) {
    auto tx = m_session->begin();
    if (!tx) return tx.error();
    auto existing = m_session->telegram().load_incident(incident_id);
    if (!existing) return existing.error();
    std::optional<IncidentView> stored;
    if (*existing) stored = incident_view_from_json(**existing);
    const auto publication = decide(existing->has_value(), std::move(stored));
    if (publication)
        if (auto r = publish_incident(m_session->telegram(), publication->view, blocks(),
                                      m_config.admin_chat_ids, publication->initial, m_now(),
                                      m_config.button_ttl);
            !r)
            return make_error("telegram: " + r.error().message);
    if (auto c = (*tx)->commit(); !c) return c;
    if (publication && m_bot) m_bot->wake_outbox();
    return {};
}

Result<void> TelegramNotifier::incident_opened(const IncidentNotice& notice) {
    return tell(notice.incident_id, [&](bool told, auto) -> std::optional<Publication> {
        if (told) return std::nullopt;  // notified before (at-least-once delivery)
        return Publication{view_from_notice(notice, m_config), true};
    });
}

Result<void> TelegramNotifier::incident_resolved(const IncidentNotice& notice) {
    return tell(notice.incident_id,
                [&](bool, std::optional<IncidentView> view) -> std::optional<Publication> {
                    const bool initial = !view;
                    if (!view) view = view_from_notice(notice, m_config);
                    if (view->resolved && !initial) return std::nullopt;
                    view->resolved = true;
                    // Nothing left to silence.
                    std::erase(view->offered, "silence");
                    return Publication{std::move(*view), initial};
                });
}

// Another alert joined the incident (one incident per user): the message the
// admins already have is edited, not a second one sent. It says which alert
// joined and why, gains the joining alert's automatic actions and offers, and
// keeps the evidence it showed, filling in what it lacked (the sending guard's
// own alert knows less than a Prometheus alert).
Result<void> TelegramNotifier::incident_joined(const IncidentNotice& notice) {
    return tell(
        notice.incident_id,
        [&](bool, std::optional<IncidentView> view) -> std::optional<Publication> {
            IncidentView joining = view_from_notice(notice, m_config);
            // Never told (or unreadable): told as a new incident.
            if (!view) return Publication{std::move(joining), true};
            // "✅ SaslUserSendingSurge: joined this incident — SASL user … is sending 3.6 msg/s"
            const LogLine joined{
                joining.alertname.empty() ? "alert" : joining.alertname,
                "joined this incident" + (joining.summary.empty() ? "" : " — " + joining.summary),
                true};
            for (const auto& l : view->log)
                if (l.actor == joined.actor && l.text == joined.text)
                    return std::nullopt;  // told before (at-least-once delivery)
            view->log.push_back(joined);
            for (const auto& l : joining.log) view->log.push_back(l);
            for (const auto& a : joining.offered)
                if (std::find(view->offered.begin(), view->offered.end(), a) == view->offered.end())
                    view->offered.push_back(a);
            auto fill = [](auto& mine, const auto& theirs) {
                if (!mine && theirs) mine = theirs;
            };
            fill(view->messages, joining.messages);
            fill(view->surge_share, joining.surge_share);
            fill(view->distinct_ips, joining.distinct_ips);
            fill(view->bounce_ratio, joining.bounce_ratio);
            fill(view->queue_depth, joining.queue_depth);
            fill(view->usual_per_hour, joining.usual_per_hour);
            fill(view->busiest_hour, joining.busiest_hour);
            fill(view->new_source_messages, joining.new_source_messages);
            if (view->top_ips.empty()) view->top_ips = joining.top_ips;
            if (view->username.empty()) view->username = joining.username;
            return Publication{std::move(*view), false};
        });
}

}  // namespace saslguard::receiver::telegram
