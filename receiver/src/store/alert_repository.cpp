// AlertRepository (both engines): webhooks, alerts, incidents, evidence, decisions
// (migrations 1, 4 and 6).
#include <nlohmann/json.hpp>

#include "saslguard/receiver/incident_json.hpp"
#include "session.hpp"

namespace saslguard::receiver::store::sql {
namespace {

std::string_view state_name(EventState s) {
    switch (s) {
        case EventState::Pending:
            return "pending";
        case EventState::Decided:
            return "decided";
        case EventState::Done:
            return "done";
    }
    return "pending";
}

EventState state_from(std::string_view s) {
    if (s == "decided") return EventState::Decided;
    if (s == "done") return EventState::Done;
    return EventState::Pending;
}

class SqlAlertRepository final : public AlertRepository {
public:
    explicit SqlAlertRepository(Connection& db) : m_db(db) {}

    Result<std::vector<IntakeResult>> store_webhooks(const std::vector<IncomingWebhook>& batch,
                                                     std::int64_t now) override {
        return in_transaction(m_db, [&]() -> Result<std::vector<IntakeResult>> {
            if (auto r = prepare_intake(); !r) return r.error();
            std::vector<IntakeResult> out;
            out.reserve(batch.size());
            for (const auto& w : batch) {
                auto r = store_one(w, now);
                if (!r) return r.error();
                out.push_back(*r);
            }
            return out;
        });
    }

    Result<std::vector<AlertEvent>> unfinished(std::size_t limit) override {
        auto st = m_db.prepare(
            "SELECT id, webhook_id, state, fingerprint, starts_at, status, labels, annotations, "
            "ends_at, generator_url, external_url FROM alerts WHERE state != 'done' "
            "ORDER BY id LIMIT ?1");
        if (!st) return st.error();
        st->bind(1, static_cast<std::int64_t>(limit));
        return collect<AlertEvent>(*st, [](const Statement& s) {
            AlertEvent e;
            e.id = s.column_int64(0);
            e.webhook_id = s.column_int64(1);
            e.state = state_from(s.column_text(2));
            e.alert.fingerprint = s.column_text(3);
            e.alert.starts_at = s.column_text(4);
            e.alert.status = s.column_text(5);
            e.alert.labels = string_map_from_json(s.column_text(6));
            e.alert.annotations = string_map_from_json(s.column_text(7));
            e.alert.ends_at = s.column_text(8);
            e.alert.generator_url = s.column_text(9);
            e.external_url = s.column_text(10);
            return e;
        });
    }

    Result<bool> resolution_stored(const std::string& fingerprint,
                                   const std::string& starts_at) override {
        auto st = m_db.prepare(
            "SELECT 1 FROM alerts WHERE fingerprint = ?1 AND starts_at = ?2 AND status = "
            "'resolved'");
        if (!st) return st.error();
        st->bind(1, fingerprint).bind(2, starts_at);
        return st->step();  // st finalized here: no read snapshot kept
    }

    Result<std::optional<std::int64_t>> open_incident(const AlertEvent& ev, const Evidence& e,
                                                      std::int64_t now) override {
        // ON CONFLICT DO NOTHING … RETURNING: no row when the incident exists already.
        auto id = insert_returning_id(
            m_db,
            "INSERT INTO incidents (fingerprint, starts_at, alertname, instance, username, "
            "status, opened_at, firing_alert_id) VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7) "
            "ON CONFLICT DO NOTHING RETURNING id",
            [&](Statement& s) {
                s.bind(1, ev.alert.fingerprint)
                    .bind(2, ev.alert.starts_at)
                    .bind(3, ev.alert.label("alertname"))
                    .bind(4, e.instance)
                    .bind(5, e.culprit)
                    .bind(6, now)
                    .bind(7, ev.id);
            });
        if (!id) return id.error();
        if (*id == 0) return std::optional<std::int64_t>{};
        return std::optional<std::int64_t>(*id);
    }

    Result<void> record_evidence(std::int64_t incident_id, const Evidence& e,
                                 std::int64_t now) override {
        return run(
            "INSERT INTO evidence (incident_id, source, conclusive, body, created_at) "
            "VALUES (?1, ?2, ?3, ?4, ?5)",
            [&](Statement& s) {
                s.bind(1, incident_id)
                    .bind(2, e.source)
                    .bind(3, e.conclusive ? 1 : 0)
                    .bind(4, to_json(e))
                    .bind(5, now);
            });
    }

    Result<void> record_decision(std::int64_t incident_id, const Decision& d,
                                 std::int64_t now) override {
        return run(
            "INSERT INTO decisions (incident_id, configured_mode, mode, act, actions, reason, "
            "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            [&](Statement& s) {
                s.bind(1, incident_id)
                    .bind(2, to_string(d.configured_mode))
                    .bind(3, to_string(d.mode))
                    .bind(4, d.act ? 1 : 0)
                    .bind(5, actions_to_json(d.actions))
                    .bind(6, d.reason)
                    .bind(7, now);
            });
    }

    Result<int> close_incidents(const std::string& fingerprint, std::int64_t event_id,
                                std::int64_t now) override {
        return in_transaction(m_db, [&]() -> Result<int> {
            auto st = m_db.prepare(
                "UPDATE incidents SET status = 'resolved', resolved_at = ?1, resolved_alert_id = "
                "?2 WHERE fingerprint = ?3 AND status = 'open'");
            if (!st) return st.error();
            st->bind(1, now).bind(2, event_id).bind(3, fingerprint);
            if (auto r = st->run(); !r) return r.error();
            return m_db.changes();
        });
    }

    Result<void> set_event_state(std::int64_t event_id, EventState state,
                                 std::int64_t now) override {
        return run("UPDATE alerts SET state = ?1, processed_at = ?2 WHERE id = ?3",
                   [&](Statement& s) {
                       s.bind(1, state_name(state))
                           .bind(2, state == EventState::Done ? std::optional<std::int64_t>(now)
                                                              : std::nullopt)
                           .bind(3, event_id);
                   });
    }

    Result<std::optional<StoredIncident>> incident_of_event(std::int64_t event_id,
                                                            bool firing) override {
        auto st = m_db.prepare(
            "SELECT i.id, e.body, d.configured_mode, d.mode, d.act, d.actions, d.reason, "
            "i.firing_alert_id "
            "FROM incidents i "
            "LEFT JOIN evidence e ON e.id = (SELECT max(id) FROM evidence WHERE incident_id = "
            "i.id) "
            "LEFT JOIN decisions d ON d.id = (SELECT max(id) FROM decisions WHERE incident_id = "
            "i.id) "
            "WHERE (?1 = 1 AND (i.firing_alert_id = ?2 OR i.id = (SELECT incident_id FROM "
            "incident_joins WHERE alert_id = ?2))) OR (?1 = 0 AND i.resolved_alert_id = ?2)");
        if (!st) return st.error();
        st->bind(1, firing ? 1 : 0).bind(2, event_id);
        auto found = st->step();
        if (!found) return found.error();
        if (!*found) return std::optional<StoredIncident>{};
        StoredIncident i;
        i.id = st->column_int64(0);
        i.evidence = evidence_from_json(st->column_text(1));
        i.decision.configured_mode = mode_from_string(st->column_text(2)).value_or(Mode::Notify);
        i.decision.mode = mode_from_string(st->column_text(3)).value_or(Mode::Notify);
        i.decision.act = st->column_int64(4) != 0;
        i.decision.actions = actions_from_json(st->column_text(5));
        i.decision.reason = st->column_text(6);
        i.joined = firing && st->column_int64(7) != event_id;
        return std::optional<StoredIncident>(std::move(i));
    }

    Result<std::optional<std::int64_t>> open_incident_of_user(const std::string& user) override {
        auto st = m_db.prepare(
            "SELECT id FROM incidents WHERE status = 'open' AND lower(username) = lower(?1) "
            "ORDER BY id DESC LIMIT 1");
        if (!st) return st.error();
        st->bind(1, user);
        auto found = st->step();
        if (!found) return found.error();
        if (!*found) return std::optional<std::int64_t>{};
        return std::optional<std::int64_t>(st->column_int64(0));
    }

    Result<void> join_incident(std::int64_t incident_id, std::int64_t event_id,
                               std::int64_t now) override {
        return run(
            "INSERT INTO incident_joins (alert_id, incident_id, joined_at) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (alert_id) DO NOTHING",
            [&](Statement& s) { s.bind(1, event_id).bind(2, incident_id).bind(3, now); });
    }

    Result<std::vector<OpenAlertIncident>> open_incidents_of_alert(
        const std::string& alertname) override {
        auto st = m_db.prepare(
            "SELECT id, fingerprint, starts_at, coalesce(username, '') FROM incidents "
            "WHERE status = 'open' AND alertname = ?1 ORDER BY id");
        if (!st) return st.error();
        st->bind(1, alertname);
        return collect<OpenAlertIncident>(*st, [](const Statement& s) {
            return OpenAlertIncident{s.column_int64(0), s.column_text(1), s.column_text(2),
                                     s.column_text(3)};
        });
    }

    Result<void> record_guard_holds(const std::vector<GuardHold>& holds) override {
        return in_transaction(m_db, [&]() -> Result<void> {
            auto st = m_db.prepare(
                "INSERT INTO guard_holds (queue_id, username, client_address, held_at, "
                "incident_id) VALUES (?1, ?2, ?3, ?4, (SELECT id FROM incidents WHERE status = "
                "'open' AND lower(username) = lower(?2) ORDER BY id DESC LIMIT 1))");
            if (!st) return st.error();
            for (const auto& h : holds) {
                st->reset();
                st->bind(1, h.queue_id)
                    .bind(2, h.username)
                    .bind(3, h.client_address)
                    .bind(4, h.held_at_ms);
                if (auto r = st->run(); !r) return r;
            }
            return {};
        });
    }

    Result<int> attach_guard_holds(std::int64_t incident_id, const std::string& user) override {
        return in_transaction(m_db, [&]() -> Result<int> {
            auto st = m_db.prepare(
                "UPDATE guard_holds SET incident_id = ?1 WHERE incident_id IS NULL AND username = "
                "lower(?2)");
            if (!st) return st.error();
            st->bind(1, incident_id).bind(2, user);
            if (auto r = st->run(); !r) return r.error();
            return m_db.changes();
        });
    }

    Result<std::vector<GuardHold>> guard_holds_of_incident(std::int64_t incident_id) override {
        auto st = m_db.prepare(
            "SELECT queue_id, username, client_address, held_at, incident_id FROM guard_holds "
            "WHERE incident_id = ?1 ORDER BY id");
        if (!st) return st.error();
        st->bind(1, incident_id);
        return collect<GuardHold>(*st, [](const Statement& s) {
            return GuardHold{s.column_text(0), s.column_text(1), s.column_text(2),
                             s.column_int64(3), s.column_int64(4)};
        });
    }

    Result<std::int64_t> count_unfinished() override {
        return count("SELECT count(*) FROM alerts WHERE state != 'done'");
    }
    Result<std::int64_t> count_open_incidents() override {
        return count("SELECT count(*) FROM incidents WHERE status = 'open'");
    }

    Result<std::vector<IncidentSummary>> open_incidents(std::size_t limit) override {
        auto st = m_db.prepare(
            "SELECT id, alertname, coalesce(username, ''), opened_at FROM incidents "
            "WHERE status = 'open' ORDER BY id DESC LIMIT ?1");
        if (!st) return st.error();
        st->bind(1, static_cast<std::int64_t>(limit));
        return collect<IncidentSummary>(*st, [](const Statement& s) {
            return IncidentSummary{s.column_int64(0), s.column_text(1), s.column_text(2),
                                   s.column_int64(3)};
        });
    }

    Result<std::vector<std::int64_t>> incidents_of_user(const std::string& username,
                                                        std::size_t limit) override {
        auto st =
            m_db.prepare("SELECT id FROM incidents WHERE username = ?1 ORDER BY id DESC LIMIT ?2");
        if (!st) return st.error();
        st->bind(1, username).bind(2, static_cast<std::int64_t>(limit));
        return collect<std::int64_t>(*st, [](const Statement& s) { return s.column_int64(0); });
    }

private:
    template <class Bind>
    Result<void> run(std::string_view sql, Bind bind) {
        return sql::run(m_db, sql, bind);
    }

    Result<std::int64_t> count(std::string_view sql) {
        auto n = m_db.query_int64(sql);
        if (!n) return n.error();
        return n->value_or(0);
    }

    // The intake's statements, compiled once (the webhook path is hot).
    Result<void> prepare_intake() {
        if (m_intake_ready) return {};
        auto w = m_db.prepare(
            "INSERT INTO webhooks (received_at, group_key, status, receiver, truncated_alerts, "
            "alert_count, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id");
        if (!w) return w.error();
        auto a = m_db.prepare(
            "INSERT INTO alerts (webhook_id, fingerprint, starts_at, status, alertname, labels, "
            "annotations, ends_at, generator_url, received_at, external_url) VALUES (?1, ?2, ?3, "
            "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (fingerprint, starts_at, status) DO "
            "NOTHING");
        if (!a) return a.error();
        auto d = m_db.prepare(
            "UPDATE alerts SET duplicates = duplicates + 1 WHERE fingerprint = ?1 AND starts_at = "
            "?2 AND status = ?3");
        if (!d) return d.error();
        m_insert_webhook = std::move(*w);
        m_insert_alert = std::move(*a);
        m_bump_duplicate = std::move(*d);
        m_intake_ready = true;
        return {};
    }

    Result<IntakeResult> store_one(const IncomingWebhook& in, std::int64_t now) {
        const WebhookPayload& wp = *in.payload;
        IntakeResult out;
        m_insert_webhook.reset();
        m_insert_webhook.bind(1, now)
            .bind(2, wp.group_key)
            .bind(3, wp.status)
            .bind(4, wp.receiver)
            .bind(5, static_cast<std::int64_t>(wp.truncated_alerts))
            .bind(6, static_cast<std::int64_t>(wp.alerts.size()))
            .bind(7, in.body);
        auto row = m_insert_webhook.step();
        if (!row) return row.error();
        if (!*row) return make_error("INSERT INTO webhooks returned no id");
        out.webhook_id = m_insert_webhook.column_int64(0);
        if (auto r = m_insert_webhook.run(); !r) return r.error();
        for (const auto& a : wp.alerts) {
            m_insert_alert.reset();
            m_insert_alert.bind(1, out.webhook_id)
                .bind(2, a.fingerprint)
                .bind(3, a.starts_at)
                .bind(4, a.status)
                .bind(5, a.label("alertname"))
                .bind(6, nlohmann::json(a.labels).dump())
                .bind(7, nlohmann::json(a.annotations).dump())
                .bind(8, a.ends_at)
                .bind(9, a.generator_url)
                .bind(10, now)
                .bind(11, wp.external_url);
            if (auto r = m_insert_alert.run(); !r) return r.error();
            if (m_db.changes() == 1) {
                (a.status == "firing" ? out.new_firing : out.new_resolved)++;
                continue;
            }
            // A redelivery (HA peer, repeat_interval, retry): counted, never acted on again.
            ++out.duplicates;
            m_bump_duplicate.reset();
            m_bump_duplicate.bind(1, a.fingerprint).bind(2, a.starts_at).bind(3, a.status);
            if (auto r = m_bump_duplicate.run(); !r) return r.error();
        }
        return out;
    }

    Connection& m_db;
    bool m_intake_ready = false;
    Statement m_insert_webhook, m_insert_alert, m_bump_duplicate;
};

}  // namespace

std::unique_ptr<AlertRepository> make_alert_repository(Connection& db) {
    return std::make_unique<SqlAlertRepository>(db);
}

}  // namespace saslguard::receiver::store::sql
