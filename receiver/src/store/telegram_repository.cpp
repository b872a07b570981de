// TelegramRepository (both engines): the telegram_* tables (migration 2).
#include "session.hpp"

namespace saslguard::receiver::store::sql {
namespace {

class SqlTelegramRepository final : public TelegramRepository {
public:
    explicit SqlTelegramRepository(Connection& db) : m_db(&db) {}

    Result<std::int64_t> enqueue(std::int64_t chat_id, std::string_view method,
                                 std::string_view payload_json, std::int64_t incident_id,
                                 std::int64_t now_ms) override {
        return insert_returning_id(
            *m_db,
            "INSERT INTO telegram_outbox(chat_id, method, payload_json, state, attempts, "
            "next_attempt_at, created_at, incident_id) "
            "VALUES(?1, ?2, ?3, 'pending', 0, ?4, ?4, ?5) RETURNING id",
            [&](Statement& s) {
                s.bind(1, chat_id).bind(2, method).bind(3, payload_json).bind(4, now_ms);
                s.bind(5, incident_id ? std::optional<std::int64_t>(incident_id) : std::nullopt);
            });
    }

    Result<std::optional<OutboxRow>> next_due(std::int64_t now_ms) override {
        auto s = m_db->prepare(
            "SELECT id, chat_id, method, payload_json, attempts, COALESCE(incident_id, 0), "
            "created_at "
            "FROM telegram_outbox WHERE state = 'pending' AND next_attempt_at <= ?1 "
            "ORDER BY incident_id IS NULL, next_attempt_at, id LIMIT 1");
        if (!s) return s.error();
        s->bind(1, now_ms);
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) return std::optional<OutboxRow>{};
        return std::optional<OutboxRow>(
            OutboxRow{s->column_int64(0), s->column_int64(1), s->column_text(2), s->column_text(3),
                      s->column_int64(4), s->column_int64(5), s->column_int64(6)});
    }

    Result<std::optional<std::int64_t>> next_due_at() override {
        return m_db->query_int64(
            "SELECT MIN(next_attempt_at) FROM telegram_outbox WHERE state = 'pending'");
    }

    Result<void> mark_sent(std::int64_t id, std::int64_t now_ms,
                           std::int64_t telegram_message_id) override {
        return run(
            *m_db,
            "UPDATE telegram_outbox SET state = 'sent', sent_at = ?2, attempts = attempts + 1, "
            "last_error = NULL, telegram_message_id = ?3 WHERE id = ?1",
            [&](Statement& s) {
                s.bind(1, id).bind(2, now_ms);
                s.bind(3, telegram_message_id ? std::optional<std::int64_t>(telegram_message_id)
                                              : std::nullopt);
            });
    }

    Result<void> mark_retry(std::int64_t id, std::int64_t next_attempt_at_ms,
                            std::string_view error) override {
        return run(*m_db,
                   "UPDATE telegram_outbox SET attempts = attempts + 1, next_attempt_at = ?2, "
                   "last_error = ?3 "
                   "WHERE id = ?1",
                   [&](Statement& s) { s.bind(1, id).bind(2, next_attempt_at_ms).bind(3, error); });
    }

    Result<void> mark_failed(std::int64_t id, std::string_view error) override {
        return run(
            *m_db,
            "UPDATE telegram_outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2 "
            "WHERE id = ?1",
            [&](Statement& s) { s.bind(1, id).bind(2, error); });
    }

    Result<std::int64_t> count_outbox(std::string_view state) override {
        auto s = m_db->prepare("SELECT COUNT(*) FROM telegram_outbox WHERE state = ?1");
        if (!s) return s.error();
        s->bind(1, state);
        auto row = s->step();
        if (!row) return row.error();
        return s->column_int64(0);
    }

    Result<void> save_incident(std::int64_t incident_id, std::string_view view_json,
                               std::int64_t now_ms) override {
        return run(
            *m_db,
            "INSERT INTO telegram_incidents(incident_id, view_json, updated_at) VALUES(?1, ?2, ?3) "
            "ON CONFLICT(incident_id) DO UPDATE SET view_json = excluded.view_json, "
            "updated_at = excluded.updated_at",
            [&](Statement& s) { s.bind(1, incident_id).bind(2, view_json).bind(3, now_ms); });
    }

    Result<std::optional<std::string>> load_incident(std::int64_t incident_id) override {
        auto s = m_db->prepare("SELECT view_json FROM telegram_incidents WHERE incident_id = ?1");
        if (!s) return s.error();
        s->bind(1, incident_id);
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) return std::optional<std::string>{};
        return std::optional<std::string>(s->column_text(0));
    }

    Result<void> set_message(std::int64_t incident_id, std::int64_t chat_id,
                             std::int64_t message_id) override {
        return run(
            *m_db,
            "INSERT INTO telegram_messages(incident_id, chat_id, message_id) VALUES(?1, ?2, ?3) "
            "ON CONFLICT(incident_id, chat_id) DO UPDATE SET message_id = excluded.message_id",
            [&](Statement& s) { s.bind(1, incident_id).bind(2, chat_id).bind(3, message_id); });
    }

    Result<std::vector<IncidentMessage>> messages(std::int64_t incident_id) override {
        auto s = m_db->prepare(
            "SELECT chat_id, message_id FROM telegram_messages WHERE incident_id = ?1 ORDER BY "
            "chat_id");
        if (!s) return s.error();
        s->bind(1, incident_id);
        std::vector<IncidentMessage> out;
        for (;;) {
            auto row = s->step();
            if (!row) return row.error();
            if (!*row) break;
            out.push_back({s->column_int64(0), s->column_int64(1)});
        }
        return out;
    }

    Result<void> add_callback(const CallbackRow& row) override {
        return run(
            *m_db,
            "INSERT INTO telegram_callbacks(token, incident_id, action, target, stage, created_at, "
            "expires_at) "
            "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            [&](Statement& s) {
                s.bind(1, row.token)
                    .bind(2, row.incident_id)
                    .bind(3, row.action)
                    .bind(4, row.target);
                s.bind(5, row.stage).bind(6, row.created_at).bind(7, row.expires_at);
            });
    }

    Result<std::optional<CallbackRow>> callback(std::string_view token) override {
        auto s = m_db->prepare(
            "SELECT token, incident_id, action, target, stage, created_at, expires_at, used_at, "
            "used_by "
            "FROM telegram_callbacks WHERE token = ?1");
        if (!s) return s.error();
        s->bind(1, token);
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) return std::optional<CallbackRow>{};
        return std::optional<CallbackRow>(
            CallbackRow{s->column_text(0), s->column_int64(1), s->column_text(2), s->column_text(3),
                        s->column_text(4), s->column_int64(5), s->column_int64(6),
                        s->column_opt_int64(7), s->column_text(8)});
    }

    Result<bool> use_callback(std::string_view token, std::int64_t now_ms,
                              std::string_view used_by) override {
        auto r =
            run(*m_db,
                "UPDATE telegram_callbacks SET used_at = ?2, used_by = ?3 WHERE token = ?1 AND "
                "used_at IS NULL",
                [&](Statement& s) { s.bind(1, token).bind(2, now_ms).bind(3, used_by); });
        if (!r) return r.error();
        return m_db->changes() == 1;
    }

    Result<void> expire_callbacks(std::int64_t incident_id, std::int64_t now_ms) override {
        return run(
            *m_db,
            "UPDATE telegram_callbacks SET expires_at = CASE WHEN expires_at > ?2 THEN ?2 ELSE "
            "expires_at END "
            "WHERE incident_id = ?1 AND used_at IS NULL",
            [&](Statement& s) { s.bind(1, incident_id).bind(2, now_ms); });
    }

    Result<bool> update_handled(std::int64_t update_id) override {
        auto s = m_db->prepare("SELECT 1 FROM telegram_updates WHERE update_id = ?1");
        if (!s) return s.error();
        s->bind(1, update_id);
        return s->step();
    }

    Result<void> record_update(std::int64_t update_id, std::int64_t now_ms) override {
        return in_transaction(*m_db, [&]() -> Result<void> {
            auto r = run(*m_db,
                         "INSERT INTO telegram_updates(update_id, handled_at) VALUES(?1, ?2) "
                         "ON CONFLICT (update_id) DO NOTHING",
                         [&](Statement& s) { s.bind(1, update_id).bind(2, now_ms); });
            if (!r) return r;
            r = advance_offset(update_id + 1);
            if (!r) return r;
            // Bounded: ids this far below the newest can never be delivered again.
            return run(*m_db, "DELETE FROM telegram_updates WHERE update_id < ?1",
                       [&](Statement& s) { s.bind(1, update_id - 100000); });
        });
    }

    Result<void> advance_offset(std::int64_t next) override {
        // The offset only moves forward: getUpdates confirms every update below it.
        return run(*m_db,
                   "INSERT INTO telegram_kv(key, value) VALUES('offset', ?1) ON CONFLICT(key) DO "
                   "UPDATE SET value = CASE WHEN CAST(telegram_kv.value AS BIGINT) < "
                   "CAST(excluded.value AS BIGINT) THEN excluded.value ELSE telegram_kv.value END",
                   [&](Statement& s) { s.bind(1, std::to_string(next)); });
    }

    Result<std::int64_t> offset() override {
        auto v =
            m_db->query_int64("SELECT CAST(value AS BIGINT) FROM telegram_kv WHERE key = 'offset'");
        if (!v) return v.error();
        return v->value_or(0);
    }

    Result<void> record_refusal(std::int64_t user_id, std::string_view username,
                                std::string_view what, std::string_view reason,
                                std::int64_t now_ms) override {
        return run(
            *m_db,
            "INSERT INTO telegram_refusals(at, user_id, username, what, reason) VALUES(?1, ?2, ?3, "
            "?4, "
            "?5)",
            [&](Statement& s) {
                s.bind(1, now_ms).bind(2, user_id).bind(3, username).bind(4, what).bind(5, reason);
            });
    }

    Result<std::int64_t> count_refusals() override {
        auto v = m_db->query_int64("SELECT COUNT(*) FROM telegram_refusals");
        if (!v) return v.error();
        return v->value_or(0);
    }

    Result<std::optional<std::int64_t>> last_refusal_at(std::int64_t user_id) override {
        auto st = m_db->prepare("SELECT MAX(at) FROM telegram_refusals WHERE user_id = ?1");
        if (!st) return st.error();
        st->bind(1, user_id);
        auto row = st->step();
        if (!row) return row.error();
        if (!*row) return std::optional<std::int64_t>{};
        return st->column_opt_int64(0);
    }

    Result<std::int64_t> prune(std::int64_t outbox_before_ms, std::int64_t refusals_before_ms,
                               std::int64_t max_refusals) override {
        std::int64_t deleted = 0;
        auto r = in_transaction(*m_db, [&]() -> Result<void> {
            for (const auto& [sql, bound] :
                 {std::pair<const char*, std::int64_t>{
                      "DELETE FROM telegram_outbox WHERE state != 'pending' AND "
                      "COALESCE(sent_at, created_at) < ?1",
                      outbox_before_ms},
                  {"DELETE FROM telegram_refusals WHERE at < ?1", refusals_before_ms},
                  {"DELETE FROM telegram_refusals WHERE id <= (SELECT id FROM telegram_refusals "
                   "ORDER BY id DESC LIMIT 1 OFFSET ?1)",
                   max_refusals}}) {
                auto d = run(*m_db, sql, [&](Statement& st) { st.bind(1, bound); });
                if (!d) return d;
                deleted += m_db->changes();
            }
            return {};
        });
        if (!r) return r.error();
        return deleted;
    }

private:
    Connection* m_db;
};

}  // namespace

std::unique_ptr<TelegramRepository> make_telegram_repository(Connection& db) {
    return std::make_unique<SqlTelegramRepository>(db);
}

}  // namespace saslguard::receiver::store::sql
