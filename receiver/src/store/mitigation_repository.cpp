// MitigationRepository (both engines): the action log (`actions`, migration 5) and
// the blocks in force (`blocks`, migration 3). Times are Unix milliseconds.
#include "session.hpp"

namespace saslguard::receiver::store::sql {
namespace {

constexpr std::string_view kActionColumns =
    "id, incident_id, kind, target, params_json, actor, reason, dry_run, state, result, error, "
    "created_at, started_at, finished_at, expires_at, reverts_action_id";

ActionRecord read_action(const Statement& st) {
    ActionRecord a;
    a.id = st.column_int64(0);
    a.incident_id = st.column_opt_int64(1).value_or(0);
    a.kind = st.column_text(2);
    a.target = st.column_text(3);
    a.params_json = st.column_text(4);
    a.actor = st.column_text(5);
    a.reason = st.column_text(6);
    a.dry_run = st.column_int64(7) != 0;
    a.state = st.column_text(8);
    a.result = st.column_text(9);
    a.error = st.column_text(10);
    a.created_at = st.column_int64(11);
    a.started_at = st.column_opt_int64(12);
    a.finished_at = st.column_opt_int64(13);
    a.expires_at = st.column_opt_int64(14);
    a.reverts_action_id = st.column_opt_int64(15);
    return a;
}

BlockRecord read_block(const Statement& st) {
    BlockRecord b{st.column_text(0), st.column_text(1), st.column_int64(2), st.column_int64(3),
                  st.column_opt_int64(4)};
    b.actor = st.column_text(5);
    b.incident_id = st.column_opt_int64(6).value_or(0);
    return b;
}

constexpr std::string_view kBlockSelect =
    "SELECT b.kind, b.target, b.action_id, b.created_at, b.expires_at, coalesce(a.actor, ''), "
    "a.incident_id FROM blocks b LEFT JOIN actions a ON a.id = b.action_id";

std::optional<std::int64_t> id_or_null(std::int64_t id) {
    return id ? std::optional<std::int64_t>(id) : std::nullopt;
}

class SqlMitigationRepository final : public MitigationRepository {
public:
    explicit SqlMitigationRepository(Connection& db) : m_db(db) {}

    Result<std::int64_t> insert_action(const ActionRecord& a) override {
        return insert_returning_id(
            m_db,
            "INSERT INTO actions (incident_id, kind, target, params_json, actor, reason, "
            "dry_run, state, result, error, created_at, started_at, finished_at, expires_at, "
            "reverts_action_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
            "?13, ?14, ?15) RETURNING id",
            [&](Statement& st) {
                st.bind(1, id_or_null(a.incident_id))
                    .bind(2, a.kind)
                    .bind(3, a.target)
                    .bind(4, a.params_json.empty() ? std::string("{}") : a.params_json)
                    .bind(5, a.actor)
                    .bind(6, a.reason)
                    .bind(7, a.dry_run ? 1 : 0)
                    .bind(8, a.state)
                    .bind(9, a.result)
                    .bind(10, a.error)
                    .bind(11, a.created_at)
                    .bind(12, a.started_at)
                    .bind(13, a.finished_at)
                    .bind(14, a.expires_at)
                    .bind(15, a.reverts_action_id);
            });
    }

    Result<void> update_action(const ActionRecord& a) override {
        return in_transaction(m_db, [&]() -> Result<void> {
            auto st = m_db.prepare(
                "UPDATE actions SET target = ?1, params_json = ?2, reason = ?3, dry_run = ?4, "
                "state = ?5, error = ?6, expires_at = ?7, started_at = coalesce(started_at, ?8), "
                "finished_at = ?9 WHERE id = ?10");
            if (!st) return st.error();
            st->bind(1, a.target)
                .bind(2, a.params_json.empty() ? std::string("{}") : a.params_json)
                .bind(3, a.reason)
                .bind(4, a.dry_run ? 1 : 0)
                .bind(5, a.state)
                .bind(6, a.error)
                .bind(7, a.expires_at)
                .bind(8, a.started_at)
                .bind(9, a.finished_at)
                .bind(10, a.id);
            if (auto r = st->run(); !r) return r;
            if (m_db.changes() != 1) return make_error("no action " + std::to_string(a.id));
            return {};
        });
    }

    Result<bool> start_action(std::int64_t id, std::int64_t now) override {
        return in_transaction(m_db, [&]() -> Result<bool> {
            auto st = m_db.prepare(
                "UPDATE actions SET state = 'running', started_at = ?1 WHERE id = ?2 AND state = "
                "'planned'");
            if (!st) return st.error();
            st->bind(1, now).bind(2, id);
            if (auto r = st->run(); !r) return r.error();
            return m_db.changes() == 1;
        });
    }

    Result<void> finish_action(const ActionFinish& f) override {
        return in_transaction(m_db, [&]() -> Result<void> {
            auto st = m_db.prepare(
                "UPDATE actions SET state = ?1, result = ?2, error = ?3, params_json = "
                "coalesce(nullif(?4, ''), params_json), finished_at = ?5, reverts_action_id = "
                "coalesce(?6, reverts_action_id) WHERE id = ?7");
            if (!st) return st.error();
            std::optional<std::int64_t> reverts;
            if (!f.reverted_actions.empty()) reverts = f.reverted_actions.front();
            st->bind(1, f.state)
                .bind(2, f.result)
                .bind(3, f.error)
                .bind(4, f.params_json)
                .bind(5, f.finished_at)
                .bind(6, reverts)
                .bind(7, f.action_id);
            if (auto r = st->run(); !r) return r;
            if (m_db.changes() != 1) return make_error("no action " + std::to_string(f.action_id));
            if (!f.remove_blocks.empty()) {
                auto del = m_db.prepare("DELETE FROM blocks WHERE kind = ?1 AND target = ?2");
                if (!del) return del.error();
                for (const auto& b : f.remove_blocks) {
                    del->reset();
                    del->bind(1, b.kind).bind(2, b.target);
                    if (auto r = del->run(); !r) return r;
                }
            }
            if (!f.put_blocks.empty()) {
                auto put = m_db.prepare(
                    "INSERT INTO blocks (kind, target, action_id, created_at, expires_at) VALUES "
                    "(?1, ?2, ?3, ?4, ?5) ON CONFLICT (kind, target) DO UPDATE SET action_id = "
                    "excluded.action_id, created_at = excluded.created_at, expires_at = "
                    "excluded.expires_at");
                if (!put) return put.error();
                for (const auto& b : f.put_blocks) {
                    put->reset();
                    put->bind(1, b.kind)
                        .bind(2, b.target)
                        .bind(3, b.action_id)
                        .bind(4, b.created_at)
                        .bind(5, b.expires_at);
                    if (auto r = put->run(); !r) return r;
                }
            }
            if (!f.reverted_actions.empty()) {
                auto rev = m_db.prepare(
                    "UPDATE actions SET state = 'reverted' WHERE id = ?1 AND state = 'applied'");
                if (!rev) return rev.error();
                for (auto id : f.reverted_actions) {
                    rev->reset();
                    rev->bind(1, id);
                    if (auto r = rev->run(); !r) return r;
                }
            }
            return {};
        });
    }

    Result<void> settle_action(std::int64_t id, bool ok, const std::string& result,
                               const std::string& error, std::int64_t now) override {
        return in_transaction(m_db, [&]() -> Result<void> {
            auto st = m_db.prepare(
                "UPDATE actions SET state = ?1, result = ?2, error = ?3, finished_at = ?4 "
                "WHERE id = ?5 AND state = 'running'");
            if (!st) return st.error();
            st->bind(1, ok ? "applied" : "failed")
                .bind(2, result)
                .bind(3, error)
                .bind(4, now)
                .bind(5, id);
            return st->run();
        });
    }

    Result<void> interrupt_action(std::int64_t id, const std::string& error,
                                  std::int64_t now) override {
        return in_transaction(m_db, [&]() -> Result<void> {
            auto st = m_db.prepare(
                "UPDATE actions SET state = 'interrupted', finished_at = ?1, error = ?2 "
                "WHERE id = ?3 AND state = 'running'");
            if (!st) return st.error();
            st->bind(1, now).bind(2, error).bind(3, id);
            return st->run();
        });
    }

    Result<int> interrupt_running(const std::vector<std::string>& actor_prefixes,
                                  const std::string& error, std::int64_t now) override {
        return in_transaction(m_db, [&]() -> Result<int> {
            auto st = m_db.prepare(
                "UPDATE actions SET state = 'interrupted', finished_at = ?1, error = ?2 "
                "WHERE state = 'running' AND substr(actor, 1, length(?3)) = ?3");
            if (!st) return st.error();
            int n = 0;
            for (const auto& prefix : actor_prefixes) {
                st->reset();
                st->bind(1, now).bind(2, error).bind(3, prefix);
                if (auto r = st->run(); !r) return r.error();
                n += m_db.changes();
            }
            return n;
        });
    }

    Result<std::int64_t> count_actions_since(const std::string& actor,
                                             std::int64_t since) override {
        auto st =
            m_db.prepare("SELECT count(*) FROM actions WHERE actor = ?1 AND created_at >= ?2");
        if (!st) return st.error();
        st->bind(1, actor).bind(2, since);
        auto row = st->step();
        if (!row) return row.error();
        return st->column_int64(0);
    }

    Result<std::vector<ActionRecord>> actions_of_incident(std::int64_t incident_id,
                                                          const std::string& actor) override {
        auto st = m_db.prepare("SELECT " + std::string(kActionColumns) +
                               " FROM actions WHERE incident_id = ?1 AND actor = ?2 ORDER BY id");
        if (!st) return st.error();
        st->bind(1, incident_id).bind(2, actor);
        return collect<ActionRecord>(*st, read_action);
    }

    Result<std::vector<ActionRecord>> actions(std::size_t limit) override {
        auto st = m_db.prepare("SELECT " + std::string(kActionColumns) +
                               " FROM actions ORDER BY id DESC LIMIT ?1");
        if (!st) return st.error();
        st->bind(1, static_cast<std::int64_t>(limit));
        return collect<ActionRecord>(*st, read_action);
    }

    Result<std::optional<ActionRecord>> action(std::int64_t id) override {
        auto st =
            m_db.prepare("SELECT " + std::string(kActionColumns) + " FROM actions WHERE id = ?1");
        if (!st) return st.error();
        st->bind(1, id);
        auto row = st->step();
        if (!row) return row.error();
        if (!*row) return std::optional<ActionRecord>{};
        return std::optional<ActionRecord>(read_action(*st));
    }

    Result<std::optional<BlockRecord>> find_block(const std::string& kind,
                                                  const std::string& target) override {
        auto st = m_db.prepare(std::string(kBlockSelect) + " WHERE b.kind = ?1 AND b.target = ?2");
        if (!st) return st.error();
        st->bind(1, kind).bind(2, target);
        auto row = st->step();
        if (!row) return row.error();
        if (!*row) return std::optional<BlockRecord>{};
        return std::optional<BlockRecord>(read_block(*st));
    }

    Result<std::vector<BlockRecord>> blocks() override {
        auto st = m_db.prepare(std::string(kBlockSelect) + " ORDER BY b.kind, b.target");
        if (!st) return st.error();
        return collect<BlockRecord>(*st, read_block);
    }

private:
    Connection& m_db;
};

}  // namespace

std::unique_ptr<MitigationRepository> make_mitigation_repository(Connection& db) {
    return std::make_unique<SqlMitigationRepository>(db);
}

}  // namespace saslguard::receiver::store::sql
