// SqliteMitigationStore: the `actions` and `blocks` tables (migration 3).
// Times are Unix milliseconds, in the interface as in the database.
#include "saslguard/receiver/database.hpp"
#include "saslguard/receiver/mitigation/store.hpp"

namespace saslguard::receiver::mitigation {
namespace {

constexpr std::string_view kActionColumns =
    "id, incident_id, kind, target, params_json, actor, reason, dry_run, state, result, error, "
    "created_at, "
    "finished_at, expires_at, reverts_action_id";

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
    a.finished_at = st.column_opt_int64(12);
    a.expires_at = st.column_opt_int64(13);
    a.reverts_action_id = st.column_opt_int64(14);
    return a;
}

BlockRecord read_block(const Statement& st) {
    return BlockRecord{st.column_text(0), st.column_text(1), st.column_int64(2), st.column_int64(3),
                       st.column_opt_int64(4)};
}

// Every row of an already bound statement, through `read`.
template <class T>
Result<std::vector<T>> collect(Statement& st, T (*read)(const Statement&)) {
    std::vector<T> out;
    for (;;) {
        auto row = st.step();
        if (!row) return row.error();
        if (!*row) return out;
        out.push_back(read(st));
    }
}

}  // namespace

Result<std::int64_t> SqliteMitigationStore::insert_action(const ActionRecord& a) {
    auto st = m_db.prepare(
        "INSERT INTO actions (incident_id, kind, target, params_json, actor, reason, dry_run, "
        "state, result, error, "
        "created_at, finished_at, expires_at, reverts_action_id) VALUES "
        "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!st) return st.error();
    st->bind(1, a.incident_id ? std::optional<std::int64_t>(a.incident_id) : std::nullopt)
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
        .bind(12, a.finished_at)
        .bind(13, a.expires_at)
        .bind(14, a.reverts_action_id);
    if (auto r = st->run(); !r) return r.error();
    return m_db.last_insert_rowid();
}

Result<void> SqliteMitigationStore::finish_action(const ActionFinish& f) {
    auto tx = Transaction::begin(m_db);
    if (!tx) return tx.error();
    {
        auto st = m_db.prepare(
            "UPDATE actions SET state = ?, result = ?, error = ?, params_json = coalesce(nullif(?, "
            "''), params_json), "
            "finished_at = ?, reverts_action_id = coalesce(?, reverts_action_id) WHERE id = ?");
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
        if (auto r = st->run(); !r) return r.error();
        if (m_db.changes() != 1) return make_error("no action " + std::to_string(f.action_id));
    }
    if (!f.remove_blocks.empty()) {
        auto st = m_db.prepare("DELETE FROM blocks WHERE kind = ? AND target = ?");
        if (!st) return st.error();
        for (const auto& b : f.remove_blocks) {
            st->reset();
            st->bind(1, b.kind).bind(2, b.target);
            if (auto r = st->run(); !r) return r.error();
        }
    }
    if (!f.put_blocks.empty()) {
        auto st = m_db.prepare(
            "INSERT INTO blocks (kind, target, action_id, created_at, expires_at) VALUES "
            "(?,?,?,?,?) "
            "ON CONFLICT (kind, target) DO UPDATE SET action_id = excluded.action_id, "
            "created_at = excluded.created_at, expires_at = excluded.expires_at");
        if (!st) return st.error();
        for (const auto& b : f.put_blocks) {
            st->reset();
            st->bind(1, b.kind)
                .bind(2, b.target)
                .bind(3, b.action_id)
                .bind(4, b.created_at)
                .bind(5, b.expires_at);
            if (auto r = st->run(); !r) return r.error();
        }
    }
    if (!f.reverted_actions.empty()) {
        auto st = m_db.prepare(
            "UPDATE actions SET state = 'reverted' WHERE id = ? AND state = 'applied'");
        if (!st) return st.error();
        for (auto id : f.reverted_actions) {
            st->reset();
            st->bind(1, id);
            if (auto r = st->run(); !r) return r.error();
        }
    }
    return tx->commit();
}

Result<std::optional<BlockRecord>> SqliteMitigationStore::find_block(const std::string& kind,
                                                                     const std::string& target) {
    auto st = m_db.prepare(
        "SELECT kind, target, action_id, created_at, expires_at FROM blocks "
        "WHERE kind = ? AND target = ?");
    if (!st) return st.error();
    st->bind(1, kind).bind(2, target);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return std::optional<BlockRecord>{};
    return std::optional<BlockRecord>(read_block(*st));
}

Result<std::vector<BlockRecord>> SqliteMitigationStore::blocks() {
    auto st = m_db.prepare(
        "SELECT kind, target, action_id, created_at, expires_at FROM blocks ORDER BY kind, target");
    if (!st) return st.error();
    return collect(*st, read_block);
}

Result<std::vector<ActionRecord>> SqliteMitigationStore::actions(std::size_t limit) {
    auto st = m_db.prepare("SELECT " + std::string(kActionColumns) +
                           " FROM actions ORDER BY id DESC LIMIT ?");
    if (!st) return st.error();
    st->bind(1, static_cast<std::int64_t>(limit));
    return collect(*st, read_action);
}

Result<std::optional<ActionRecord>> SqliteMitigationStore::action(std::int64_t id) {
    auto st = m_db.prepare("SELECT " + std::string(kActionColumns) + " FROM actions WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, id);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return std::optional<ActionRecord>{};
    return std::optional<ActionRecord>(read_action(*st));
}

}  // namespace saslguard::receiver::mitigation
