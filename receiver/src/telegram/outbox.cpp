#include "saslguard/receiver/telegram/outbox.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "saslguard/common/log.hpp"

namespace saslguard::receiver::telegram {

OutboxSender::OutboxSender(store::TelegramRepository& store, BotApi& api, TelegramStats& stats,
                           OutboxOptions options, Clock now)
    : m_store(store), m_api(api), m_stats(stats), m_options(options), m_now(std::move(now)) {
    m_rng ^= static_cast<std::uint64_t>(m_now());
}

std::int64_t OutboxSender::backoff_ms(std::int64_t attempts, const ApiResult& r) {
    std::int64_t base = m_options.base_backoff.count();
    std::int64_t cap = m_options.max_backoff.count();
    std::int64_t d = base;
    for (std::int64_t i = 0; i < attempts && d < cap; ++i) d *= 2;
    d = std::min(d, cap);
    // ±20% jitter so many rows (or many receivers) do not retry in lockstep.
    m_rng ^= m_rng << 13, m_rng ^= m_rng >> 7, m_rng ^= m_rng << 17;
    std::int64_t span = d / 5;
    if (span > 0)
        d += static_cast<std::int64_t>(m_rng % static_cast<std::uint64_t>(2 * span + 1)) - span;
    if (r.retry_after_s) d = std::max<std::int64_t>(d, *r.retry_after_s * 1000);
    return std::max<std::int64_t>(d, 1);
}

void OutboxSender::refresh_pending() {
    if (auto n = m_store.count_outbox("pending")) m_stats.outbox_pending = *n;
}

Result<std::optional<std::int64_t>> OutboxSender::next_wakeup() {
    auto at = m_store.next_due_at();
    if (!at) return at.error();
    if (!*at) return at;
    return std::optional<std::int64_t>(std::max(**at, m_paused_until));
}

Result<bool> OutboxSender::send_one() {
    const std::int64_t now = m_now();
    if (now < m_paused_until) return false;
    auto due = m_store.next_due(now);
    if (!due) return due.error();
    if (!*due) return false;
    const store::OutboxRow& row = **due;

    std::string payload = row.payload_json;
    auto body = nlohmann::json::parse(payload, nullptr, false);
    const bool is_edit = row.method.rfind("edit", 0) == 0;
    if (is_edit && body.is_object() && body.value("message_id", std::int64_t{0}) == 0) {
        // The edit of an incident message: find the message its sendMessage produced.
        auto msgs = m_store.messages(row.incident_id);
        if (!msgs) return msgs.error();
        auto it = std::find_if(msgs->begin(), msgs->end(), [&](const store::IncidentMessage& m) {
            return m.chat_id == row.chat_id;
        });
        if (it == msgs->end()) {
            ApiResult waiting;
            waiting.description = "incident message not sent yet";
            if (row.attempts + 1 >= m_options.max_attempts) {
                m_stats.failed++;
                log::error("telegram: edit has no message to edit",
                           {{"outbox_id", std::to_string(row.id)}});
                if (auto r = m_store.mark_failed(row.id, waiting.description); !r) return r.error();
            } else if (auto r = m_store.mark_retry(row.id, now + backoff_ms(row.attempts, waiting),
                                                   waiting.description);
                       !r) {
                return r.error();
            }
            return true;
        }
        body["message_id"] = it->message_id;
        payload = body.dump();
    }

    ApiResult r = m_api.call(row.method, payload);
    const std::int64_t after = m_now();
    if (!r.ok() && is_edit && r.error_code == 400 &&
        r.description.find("message is not modified") != std::string::npos)
        r.outcome = ApiResult::Outcome::Ok;  // the message already shows this text

    if (r.ok()) {
        std::int64_t message_id = 0;
        auto res = nlohmann::json::parse(r.result_json, nullptr, false);
        if (res.is_object()) message_id = res.value("message_id", std::int64_t{0});
        if (row.method == "sendMessage" && row.incident_id && message_id) {
            if (auto s = m_store.set_message(row.incident_id, row.chat_id, message_id); !s)
                return s.error();
        }
        if (auto s = m_store.mark_sent(row.id, after, message_id); !s) return s.error();
        m_stats.sent++;
        return true;
    }

    const std::string err = r.describe();
    if (r.retryable() && row.attempts + 1 < m_options.max_attempts) {
        std::int64_t delay = backoff_ms(row.attempts, r);
        if (r.http_status == 429 && r.retry_after_s)
            m_paused_until = after + *r.retry_after_s * 1000;
        m_stats.retried++;
        log::warn("telegram: send failed, will retry",
                  {{"method", row.method},
                   {"outbox_id", std::to_string(row.id)},
                   {"attempt", std::to_string(row.attempts + 1)},
                   {"retry_in_ms", std::to_string(delay)},
                   {"error", err}});
        if (auto s = m_store.mark_retry(row.id, after + delay, err); !s) return s.error();
        return true;
    }
    m_stats.failed++;
    log::error("telegram: send failed, giving up", {{"method", row.method},
                                                    {"outbox_id", std::to_string(row.id)},
                                                    {"chat_id", std::to_string(row.chat_id)},
                                                    {"attempts", std::to_string(row.attempts + 1)},
                                                    {"error", err}});
    if (auto s = m_store.mark_failed(row.id, err); !s) return s.error();
    return true;
}

}  // namespace saslguard::receiver::telegram
