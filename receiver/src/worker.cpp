#include "saslguard/receiver/worker.hpp"

#include <nlohmann/json.hpp>

#include <chrono>

#include "saslguard/common/log.hpp"
#include "saslguard/receiver/database.hpp"
#include "saslguard/receiver/incident_json.hpp"
#include "saslguard/receiver/metrics.hpp"
#include "saslguard/receiver/notifier.hpp"
#include "saslguard/receiver/policy.hpp"
#include "saslguard/receiver/resolver.hpp"

namespace saslguard::receiver {

struct Worker::Row {
    std::int64_t id = 0;
    std::int64_t webhook_id = 0;
    std::string state;
    Alert alert;
};

Worker::Worker(std::unique_ptr<Database> db, const Config& config, Resolver& resolver,
               ActionExecutor& executor, Notifier& notifier, ReceiverMetrics* metrics)
    : m_db(std::move(db)),
      m_config(config),
      m_resolver(resolver),
      m_executor(executor),
      m_notifier(notifier),
      m_metrics(metrics) {}

Worker::~Worker() {
    stop();
}

Result<int> Worker::recover() {
    auto st = m_db->prepare(
        "UPDATE incident_actions SET state = 'interrupted', finished_at = ?1,"
        " error = 'the receiver stopped while this action ran; its effect is unknown and it is not "
        "run again'"
        " WHERE state = 'running'");
    if (!st) return st.error();
    st->bind(1, unix_ms());
    auto tx = Transaction::begin(*m_db);
    if (!tx) return tx.error();
    if (auto r = st->run(); !r) return r.error();
    int n = m_db->changes();
    if (auto c = tx->commit(); !c) return c.error();
    if (n > 0)
        log::warn("actions interrupted by a restart, not run again",
                  {{"count", std::to_string(n)}});
    return n;
}

Result<int> Worker::run_once() {
    int done = 0;
    for (;;) {
        std::vector<Row> rows;
        {
            auto st = m_db->prepare(
                "SELECT id, webhook_id, state, fingerprint, starts_at, status, labels, "
                "annotations, ends_at,"
                " generator_url FROM alerts WHERE state != 'done' ORDER BY id LIMIT 64");
            if (!st) return st.error();
            for (;;) {
                auto more = st->step();
                if (!more) return more.error();
                if (!*more) break;
                Row row;
                row.id = st->column_int64(0);
                row.webhook_id = st->column_int64(1);
                row.state = st->column_text(2);
                row.alert.fingerprint = st->column_text(3);
                row.alert.starts_at = st->column_text(4);
                row.alert.status = st->column_text(5);
                row.alert.labels = string_map_from_json(st->column_text(6));
                row.alert.annotations = string_map_from_json(st->column_text(7));
                row.alert.ends_at = st->column_text(8);
                row.alert.generator_url = st->column_text(9);
                rows.push_back(std::move(row));
            }
        }
        if (rows.empty() || done - m_checkpointed >= 1000) {
            // PASSIVE: copies what no reader needs, never waits for writers.
            (void)m_db->exec("PRAGMA wal_checkpoint(PASSIVE)");
            m_checkpointed = done;
        }
        if (rows.empty()) {
            m_checkpointed = 0;
            return done;
        }
        for (auto& row : rows) {
            if (auto r = process(row); !r)
                return make_error("alert event " + std::to_string(row.id) + ": " +
                                  r.error().message);
            ++done;
        }
    }
}

namespace {
// One statement in its own transaction (and so under the process's write lock).
Result<void> run_alone(Database& db, Statement& st) {
    auto tx = Transaction::begin(db);
    if (!tx) return tx.error();
    if (auto r = st.run(); !r) return r;
    return tx->commit();
}
}  // namespace

Result<void> Worker::process(Row& row) {
    if (row.state == "pending") {
        auto r = row.alert.status == "firing" ? decide_firing(row) : close_incident(row);
        if (!r) return r;
        if (row.state == "done") return {};
    }
    return finish(row);
}

Result<int> Worker::auto_actions_last_hour() {
    auto st = m_db->prepare(
        "SELECT count(*) FROM incident_actions WHERE actor = 'auto' AND created_at >= ?1");
    if (!st) return st.error();
    st->bind(1, unix_ms() - 3'600'000);
    auto row = st->step();
    if (!row) return row.error();
    return static_cast<int>(st->column_int64(0));  // st finalized here: no read snapshot kept
}

Result<void> Worker::decide_firing(Row& row) {
    const Alert& alert = row.alert;
    Evidence evidence = m_resolver.resolve(alert);  // network: outside any transaction
    auto used = auto_actions_last_hour();
    if (!used) return used.error();
    Decision decision = decide(m_config.policy, alert, evidence, *used);
    const std::int64_t now = unix_ms();

    auto tx = Transaction::begin(*m_db);
    if (!tx) return tx.error();
    // An alert that already resolved (resolution delivered first) opens nothing.
    auto gone = m_db->prepare(
        "SELECT 1 FROM alerts WHERE fingerprint = ?1 AND starts_at = ?2 AND status = 'resolved'");
    if (!gone) return gone.error();
    gone->bind(1, alert.fingerprint).bind(2, alert.starts_at);
    auto resolved_first = gone->step();
    if (!resolved_first) return resolved_first.error();

    std::int64_t incident_id = 0;
    if (!*resolved_first) {
        auto ins = m_db->prepare(
            "INSERT INTO incidents (fingerprint, starts_at, alertname, instance, username, status, "
            "opened_at,"
            " firing_alert_id) VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7) ON CONFLICT DO NOTHING");
        if (!ins) return ins.error();
        ins->bind(1, alert.fingerprint)
            .bind(2, alert.starts_at)
            .bind(3, alert.label("alertname"))
            .bind(4, evidence.instance)
            .bind(5, evidence.culprit)
            .bind(6, now)
            .bind(7, row.id);
        if (auto r = ins->run(); !r) return r;
        if (m_db->changes() == 1) incident_id = m_db->last_insert_rowid();
    }
    if (incident_id == 0) {
        auto upd =
            m_db->prepare("UPDATE alerts SET state = 'done', processed_at = ?1 WHERE id = ?2");
        if (!upd) return upd.error();
        upd->bind(1, now).bind(2, row.id);
        if (auto r = upd->run(); !r) return r;
        if (auto c = tx->commit(); !c) return c;
        row.state = "done";
        log::info("firing alert opens no incident (already resolved or already open)",
                  {{"alert", std::to_string(row.id)}, {"fingerprint", alert.fingerprint}});
        return {};
    }

    auto ev = m_db->prepare(
        "INSERT INTO evidence (incident_id, source, conclusive, body, created_at) VALUES (?1, ?2, "
        "?3, ?4, ?5)");
    if (!ev) return ev.error();
    ev->bind(1, incident_id)
        .bind(2, evidence.source)
        .bind(3, evidence.conclusive ? 1 : 0)
        .bind(4, to_json(evidence))
        .bind(5, now);
    if (auto r = ev->run(); !r) return r;

    auto dec = m_db->prepare(
        "INSERT INTO decisions (incident_id, configured_mode, mode, act, actions, reason, "
        "created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!dec) return dec.error();
    dec->bind(1, incident_id)
        .bind(2, to_string(decision.configured_mode))
        .bind(3, to_string(decision.mode))
        .bind(4, decision.act ? 1 : 0)
        .bind(5, actions_to_json(decision.actions))
        .bind(6, decision.reason)
        .bind(7, now);
    if (auto r = dec->run(); !r) return r;

    auto act = m_db->prepare(
        "INSERT INTO incident_actions (incident_id, kind, actor, request, state, created_at)"
        " VALUES (?1, ?2, ?3, ?4, 'planned', ?5)");
    if (!act) return act.error();
    for (const auto& req : plan_actions(decision, evidence, m_config, incident_id)) {
        act->reset();
        act->bind(1, incident_id)
            .bind(2, to_string(req.kind))
            .bind(3, req.actor)
            .bind(4, to_json(req))
            .bind(5, now);
        if (auto r = act->run(); !r) return r;
    }
    auto upd = m_db->prepare("UPDATE alerts SET state = 'decided' WHERE id = ?1");
    if (!upd) return upd.error();
    upd->bind(1, row.id);
    if (auto r = upd->run(); !r) return r;
    if (auto c = tx->commit(); !c) return c;
    row.state = "decided";
    log::info("incident stored", {{"incident", std::to_string(incident_id)},
                                  {"alertname", alert.label("alertname")},
                                  {"user", evidence.culprit.value_or("")},
                                  {"mode", std::string(to_string(decision.mode))},
                                  {"reason", decision.reason}});
    return {};
}

Result<void> Worker::close_incident(Row& row) {
    const std::int64_t now = unix_ms();
    auto tx = Transaction::begin(*m_db);
    if (!tx) return tx.error();
    // By fingerprint, not startsAt: Alertmanager may report a resolution with an
    // earlier startsAt than the firing it ends (it merges overlapping alerts).
    auto st = m_db->prepare(
        "UPDATE incidents SET status = 'resolved', resolved_at = ?1, resolved_alert_id = ?2"
        " WHERE fingerprint = ?3 AND status = 'open'");
    if (!st) return st.error();
    st->bind(1, now).bind(2, row.id).bind(3, row.alert.fingerprint);
    if (auto r = st->run(); !r) return r;
    const bool closed = m_db->changes() > 0;
    auto upd = m_db->prepare("UPDATE alerts SET state = ?1, processed_at = ?2 WHERE id = ?3");
    if (!upd) return upd.error();
    upd->bind(1, closed ? "decided" : "done")
        .bind(2, closed ? std::optional<std::int64_t>() : now)
        .bind(3, row.id);
    if (auto r = upd->run(); !r) return r;
    if (auto c = tx->commit(); !c) return c;
    row.state = closed ? "decided" : "done";
    if (!closed)
        log::info("resolved alert matches no open incident",
                  {{"fingerprint", row.alert.fingerprint}});
    return {};
}

Result<void> Worker::finish(Row& row) {
    const bool firing = row.alert.status == "firing";
    // The incident this event belongs to, with its stored evidence and decision.
    auto inc = m_db->prepare(
        "SELECT i.id, e.body, d.configured_mode, d.mode, d.act, d.actions, d.reason FROM incidents "
        "i"
        " LEFT JOIN evidence e ON e.id = (SELECT max(id) FROM evidence WHERE incident_id = i.id)"
        " LEFT JOIN decisions d ON d.id = (SELECT max(id) FROM decisions WHERE incident_id = i.id)"
        " WHERE (?1 = 1 AND i.firing_alert_id = ?2) OR (?1 = 0 AND i.resolved_alert_id = ?2)");
    if (!inc) return inc.error();
    inc->bind(1, firing ? 1 : 0).bind(2, row.id);
    auto found = inc->step();
    if (!found) return found.error();
    IncidentNotice notice;
    if (*found) {
        notice.incident_id = inc->column_int64(0);
        notice.evidence = evidence_from_json(inc->column_text(1));
        notice.decision.configured_mode =
            mode_from_string(inc->column_text(2)).value_or(Mode::Notify);
        notice.decision.mode = mode_from_string(inc->column_text(3)).value_or(Mode::Notify);
        notice.decision.act = inc->column_int64(4) != 0;
        notice.decision.actions = actions_from_json(inc->column_text(5));
        notice.decision.reason = inc->column_text(6);
    }
    // A statement left on a row keeps a WAL read snapshot open, and a connection
    // holding an old snapshot cannot write (SQLITE_BUSY at once, no busy wait).
    inc->reset();
    notice.alert = row.alert;
    notice.alertname = row.alert.label("alertname");
    notice.severity = row.alert.label("severity");
    notice.summary = row.alert.annotation("summary");
    notice.description = row.alert.annotation("description");
    if (auto wh = m_db->prepare("SELECT body FROM webhooks WHERE id = ?1")) {
        wh->bind(1, row.webhook_id);
        if (auto r = wh->step(); r && *r) {
            auto doc = nlohmann::json::parse(wh->column_text(0), nullptr, false);
            if (doc.is_object() && doc["externalURL"].is_string())
                notice.external_url = doc["externalURL"].get<std::string>();
        }
        wh->reset();
    }

    if (firing && notice.incident_id != 0) {
        struct Planned {
            std::int64_t id;
            std::string state;
            ActionResult result;
        };
        std::vector<Planned> planned;
        auto acts = m_db->prepare(
            "SELECT id, request, state, summary, error, audit_id FROM incident_actions WHERE "
            "incident_id = ?1 ORDER BY id");
        if (!acts) return acts.error();
        acts->bind(1, notice.incident_id);
        for (;;) {
            auto more = acts->step();
            if (!more) return more.error();
            if (!*more) break;
            Planned p{acts->column_int64(0), acts->column_text(2), {}};
            p.result.request = action_request_from_json(acts->column_text(1));
            p.result.outcome.ok = p.state == "done";
            p.result.outcome.summary = acts->column_text(3);
            p.result.outcome.error = acts->column_text(4);
            p.result.outcome.action_id = acts->column_opt_int64(5).value_or(0);
            planned.push_back(std::move(p));
        }
        auto mark = m_db->prepare(
            "UPDATE incident_actions SET state = 'running', started_at = ?1 WHERE id = ?2");
        auto record = m_db->prepare(
            "UPDATE incident_actions SET state = ?1, summary = ?2, error = ?3, audit_id = ?4, "
            "finished_at = ?5"
            " WHERE id = ?6");
        if (!mark) return mark.error();
        if (!record) return record.error();
        for (auto& p : planned) {
            const std::string kind(to_string(p.result.request.kind));
            if (p.state == "running") {
                // Ran in an earlier attempt whose outcome was not recorded (a store
                // error after execute()): same as a crash, never run again.
                record->reset();
                record->bind(1, "interrupted")
                    .bind(2, p.result.outcome.summary)
                    .bind(3, "the outcome of this action was not recorded; it is not run again")
                    .bind_null(4)
                    .bind(5, unix_ms())
                    .bind(6, p.id);
                if (auto r = run_alone(*m_db, *record); !r) return r;
                p.state = "interrupted";
                p.result.outcome.error =
                    "the outcome of this action was not recorded; it is not run again";
            }
            if (p.state == "interrupted") {
                notice.interrupted = true;
                if (m_metrics) m_metrics->action(kind, "interrupted");
            }
            if (p.state != "planned") {
                notice.results.push_back(p.result);
                continue;
            }
            // Committed before running: if we die during execute(), recover()
            // sees 'running' and never runs it again.
            mark->reset();
            mark->bind(1, unix_ms()).bind(2, p.id);
            if (auto r = run_alone(*m_db, *mark); !r) return r;
            ActionOutcome outcome = m_executor.execute(p.result.request);
            record->reset();
            record->bind(1, outcome.ok ? "done" : "failed")
                .bind(2, outcome.summary)
                .bind(3, outcome.error)
                .bind(4, outcome.action_id)
                .bind(5, unix_ms())
                .bind(6, p.id);
            if (auto r = run_alone(*m_db, *record); !r) return r;
            if (m_metrics) m_metrics->action(kind, outcome.ok ? "ok" : "failed");
            log::write(outcome.ok ? log::Level::Info : log::Level::Warn, "automatic action",
                       {{"incident", std::to_string(notice.incident_id)},
                        {"kind", kind},
                        {"user", p.result.request.username},
                        {"ok", outcome.ok ? "true" : "false"},
                        {"summary", outcome.summary},
                        {"error", outcome.error}});
            p.result.outcome = std::move(outcome);
            notice.results.push_back(p.result);
        }
    }

    if (notice.incident_id != 0) {
        auto r = firing ? m_notifier.incident_opened(notice) : m_notifier.incident_resolved(notice);
        if (m_metrics) m_metrics->notification(r.ok());
        if (!r)
            log::warn("notifier failed", {{"incident", std::to_string(notice.incident_id)},
                                          {"error", r.error().message}});
    }
    auto upd = m_db->prepare("UPDATE alerts SET state = 'done', processed_at = ?1 WHERE id = ?2");
    if (!upd) return upd.error();
    upd->bind(1, unix_ms()).bind(2, row.id);
    if (auto r = run_alone(*m_db, *upd); !r) return r;
    row.state = "done";
    return {};
}

void Worker::start() {
    m_thread = std::thread([this] {
        if (auto r = recover(); !r)
            log::error("worker recovery failed", {{"error", r.error().message}});
        for (;;) {
            auto r = run_once();
            m_healthy = r.ok();
            if (!r) log::error("worker: store error, retrying", {{"error", r.error().message}});
            std::unique_lock lock(m_mu);
            // Wake on new alerts; otherwise poll, and back off after an error.
            m_cv.wait_for(lock, std::chrono::seconds(r ? 5 : 1), [&] { return m_wake || m_stop; });
            if (m_stop) return;
            m_wake = false;
        }
    });
}

void Worker::wake() {
    {
        std::lock_guard lock(m_mu);
        m_wake = true;
    }
    m_cv.notify_one();
}

void Worker::stop() {
    {
        std::lock_guard lock(m_mu);
        m_stop = true;
    }
    m_cv.notify_one();
    if (m_thread.joinable()) m_thread.join();
}

}  // namespace saslguard::receiver
