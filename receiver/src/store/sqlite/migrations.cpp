// The receiver's schema, as an append-only list of migration steps.
//
// HOW TO ADD A STEP: append ONE entry at the end of kMigrations (before the
// closing brace). Never edit, reorder or remove a committed entry — databases in
// the field have run it. Version numbers are positions (1-based), so appending
// is a one-entry edit. Timestamps are Unix milliseconds (INTEGER) unless a column
// says otherwise; JSON columns hold objects written by nlohmann::json.
#include "migrations.hpp"

#include <string>

#include "database.hpp"

namespace saslguard::receiver::store::sqlite {
namespace {

const std::vector<Migration> kMigrations = {
    // 1 ---------------------------------------------------------------------
    {"webhook intake, alert events, incidents, evidence, decisions, incident actions", R"SQL(
CREATE TABLE webhooks (
    id               INTEGER PRIMARY KEY,
    received_at      INTEGER NOT NULL,
    group_key        TEXT NOT NULL,
    status           TEXT NOT NULL,
    receiver         TEXT NOT NULL,
    truncated_alerts INTEGER NOT NULL,
    alert_count      INTEGER NOT NULL,
    body             TEXT NOT NULL          -- the accepted payload, verbatim
);
-- One row per distinct alert event. (fingerprint, starts_at, status) is what
-- makes a redelivery (HA pair, repeat_interval, retry) the same event.
CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY,
    webhook_id    INTEGER NOT NULL REFERENCES webhooks(id),
    fingerprint   TEXT NOT NULL,
    starts_at     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    alertname     TEXT NOT NULL,
    labels        TEXT NOT NULL,            -- JSON object
    annotations   TEXT NOT NULL,            -- JSON object
    ends_at       TEXT NOT NULL,
    generator_url TEXT NOT NULL,
    received_at   INTEGER NOT NULL,
    duplicates    INTEGER NOT NULL DEFAULT 0,  -- redeliveries seen after the first
    -- pending: accepted, not yet looked at; decided: incident, evidence, decision
    -- and planned actions stored; done: actions run and notification sent.
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'decided', 'done')),
    processed_at  INTEGER,
    UNIQUE (fingerprint, starts_at, status)
);
CREATE INDEX alerts_unfinished ON alerts(id) WHERE state != 'done';

CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,
    fingerprint     TEXT NOT NULL,
    starts_at       TEXT NOT NULL,
    alertname       TEXT NOT NULL,
    instance        TEXT NOT NULL,
    username        TEXT,                   -- the culprit, when one was named
    status          TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    opened_at       INTEGER NOT NULL,
    resolved_at     INTEGER,
    firing_alert_id INTEGER REFERENCES alerts(id),
    UNIQUE (fingerprint, starts_at)
);
CREATE INDEX incidents_open ON incidents(status) WHERE status = 'open';

CREATE TABLE evidence (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    source      TEXT NOT NULL,              -- label | prometheus | exporter | none
    conclusive  INTEGER NOT NULL,
    body        TEXT NOT NULL,              -- JSON (Evidence)
    created_at  INTEGER NOT NULL
);

CREATE TABLE decisions (
    id              INTEGER PRIMARY KEY,
    incident_id     INTEGER NOT NULL REFERENCES incidents(id),
    configured_mode TEXT NOT NULL,          -- from config or the alert's mitigation label
    mode            TEXT NOT NULL,          -- what was applied after the guards
    act             INTEGER NOT NULL,       -- 1 when actions ran automatically
    actions         TEXT NOT NULL,          -- JSON array of action kinds (run or suggested)
    reason          TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);

-- Action requests the worker made for an incident and their outcomes. The
-- executor keeps its own audit record (audit_id). A row in 'running' after a
-- crash becomes 'interrupted' and is never re-run automatically.
CREATE TABLE incident_actions (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    request     TEXT NOT NULL,              -- JSON (ActionRequest)
    state       TEXT NOT NULL CHECK (state IN ('planned', 'running', 'done', 'failed', 'interrupted')),
    summary     TEXT,
    error       TEXT,
    audit_id    INTEGER,
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER
);
CREATE INDEX incident_actions_by_incident ON incident_actions(incident_id);
CREATE INDEX incident_actions_started ON incident_actions(actor, started_at);
)SQL"},
    // 2 ---------------------------------------------------------------------
    {"telegram bot: outbox, inline-button callbacks, incident messages, handled updates, offset, "
     "refusals",
     R"SQL(
-- Every outgoing Bot API call, until sent or definitively failed (docs/telegram.md).
CREATE TABLE telegram_outbox (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id             INTEGER NOT NULL,
    method              TEXT NOT NULL,          -- sendMessage | editMessageText | …
    payload_json        TEXT NOT NULL,
    state               TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER NOT NULL,
    last_error          TEXT,
    created_at          INTEGER NOT NULL,
    sent_at             INTEGER,
    incident_id         INTEGER,
    telegram_message_id INTEGER
);
CREATE INDEX telegram_outbox_due ON telegram_outbox(next_attempt_at, id) WHERE state = 'pending';
-- Inline buttons: callback_data is the random token, never the action itself.
CREATE TABLE telegram_callbacks (
    token       TEXT PRIMARY KEY,
    incident_id INTEGER NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,                  -- JSON: username, ips, senders, duration_s
    stage       TEXT NOT NULL CHECK (stage IN ('offer', 'confirm')),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    used_by     TEXT
);
CREATE INDEX telegram_callbacks_by_incident ON telegram_callbacks(incident_id);
-- What each incident message shows (JSON), re-rendered when an admin acts or it resolves.
CREATE TABLE telegram_incidents (
    incident_id INTEGER PRIMARY KEY,
    view_json   TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE telegram_messages (
    incident_id INTEGER NOT NULL,
    chat_id     INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    PRIMARY KEY (incident_id, chat_id)
);
-- update_ids already handled, recorded in the transaction of their effect.
CREATE TABLE telegram_updates (
    update_id  INTEGER PRIMARY KEY,
    handled_at INTEGER NOT NULL
);
CREATE TABLE telegram_kv (
    key   TEXT PRIMARY KEY,                     -- 'offset': next getUpdates offset
    value TEXT NOT NULL
);
-- Presses and commands from Telegram users who are not configured admins.
CREATE TABLE telegram_refusals (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    username TEXT NOT NULL,
    what     TEXT NOT NULL,
    reason   TEXT NOT NULL
);
)SQL"},
    // 3 ---------------------------------------------------------------------
    {"mitigation: audit trail of every action and the blocks now in force", R"SQL(
-- One row per mitigation request (docs/mitigation.md), dry runs and refused
-- requests included. Times are Unix milliseconds.
CREATE TABLE actions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id       INTEGER,                -- NULL when not tied to an incident (saslguardctl)
    kind              TEXT NOT NULL,          -- block_login | unblock_login | hold_mail | …
    target            TEXT NOT NULL,          -- SASL login (log-quoted when it failed validation)
    params_json       TEXT NOT NULL,          -- ips, senders, affected queue ids, …
    actor             TEXT NOT NULL,          -- auto | telegram:<id> | cli:<user> | expiry
    reason            TEXT NOT NULL,
    dry_run           INTEGER NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('requested', 'applied', 'failed', 'reverted')),
    result            TEXT NOT NULL DEFAULT '',
    error             TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    finished_at       INTEGER,
    expires_at        INTEGER,
    reverts_action_id INTEGER REFERENCES actions(id)
);
CREATE INDEX actions_by_target ON actions(target, created_at);
-- What is in force now: one row per kind (login | ip | account | hold) and target.
CREATE TABLE blocks (
    kind       TEXT NOT NULL,
    target     TEXT NOT NULL,
    action_id  INTEGER NOT NULL REFERENCES actions(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (kind, target)
);
CREATE INDEX blocks_expiring ON blocks(expires_at) WHERE expires_at IS NOT NULL;
)SQL"},
    // 4 ---------------------------------------------------------------------
    {"incidents: remember which resolved alert event closed the incident", R"SQL(
-- A resolution closes the open incidents of its fingerprint even when its
-- startsAt differs from the firing one (Alertmanager merges overlapping alerts
-- and keeps the earliest startsAt), so the closing event is recorded explicitly.
ALTER TABLE incidents ADD COLUMN resolved_alert_id INTEGER REFERENCES alerts(id);
CREATE INDEX incidents_by_fingerprint ON incidents(fingerprint, status);
)SQL"},
    // 5 ---------------------------------------------------------------------
    {"one action log: the worker's planned actions and the executor's audit trail become one "
     "table with one state vocabulary",
     R"SQL(
-- Until now an automatic action had two rows (incident_actions: planned, running,
-- done, failed, interrupted; actions: requested, applied, failed, reverted). From
-- here on every action is one row of `actions`:
--   planned -> running -> applied | failed | interrupted, and applied -> reverted.
-- `actions` is rebuilt for its new CHECK. Its rows are put back after the new
-- table has the old name, so the blocks pointing at them are whole again by
-- COMMIT (foreign keys are checked there).
PRAGMA defer_foreign_keys = ON;
-- The executor's rows keep their ids; one it never finished (a crash) is interrupted.
CREATE TEMP TABLE actions_v4 AS
SELECT a.id, a.incident_id, a.kind, a.target, a.params_json, a.actor, a.reason, a.dry_run,
       CASE a.state WHEN 'requested' THEN 'interrupted' ELSE a.state END AS state,
       a.result, a.error, a.created_at,
       (SELECT max(ia.started_at) FROM incident_actions ia WHERE ia.audit_id = a.id) AS started_at,
       a.finished_at, a.expires_at, a.reverts_action_id
FROM actions a;
-- The worker's rows the executor kept no row for (not run yet, or run by an
-- executor that keeps none) become rows of their own, in their order.
CREATE TEMP TABLE incident_actions_v4 AS
SELECT ia.id, ia.incident_id, ia.kind,
       coalesce(json_extract(ia.request, '$.username'), '') AS target,
       CASE WHEN json_valid(ia.request) THEN ia.request ELSE '{}' END AS params_json,
       ia.actor,
       coalesce(json_extract(ia.request, '$.reason'), '') AS reason,
       coalesce(json_extract(ia.request, '$.dry_run'), 0) AS dry_run,
       CASE ia.state WHEN 'done' THEN 'applied' ELSE ia.state END AS state,
       coalesce(ia.summary, '') AS result, coalesce(ia.error, '') AS error,
       ia.created_at, ia.started_at, ia.finished_at
FROM incident_actions ia
WHERE ia.audit_id IS NULL OR ia.audit_id NOT IN (SELECT id FROM actions);
DROP TABLE incident_actions;
DROP TABLE actions;
CREATE TABLE actions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id       INTEGER,                -- NULL when not tied to an incident (saslguardctl)
    kind              TEXT NOT NULL,          -- block_login | unblock_login | hold_mail | …
    target            TEXT NOT NULL,          -- SASL login (log-quoted when it failed validation)
    params_json       TEXT NOT NULL,          -- ips, senders, expires_after_s, affected, …
    actor             TEXT NOT NULL,          -- auto | telegram:<id> | cli:<user> | expiry
    reason            TEXT NOT NULL,
    dry_run           INTEGER NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('planned', 'running', 'applied', 'failed',
                                                     'interrupted', 'reverted')),
    result            TEXT NOT NULL DEFAULT '',
    error             TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    started_at        INTEGER,
    finished_at       INTEGER,
    expires_at        INTEGER,
    reverts_action_id INTEGER REFERENCES actions(id)
);
INSERT INTO actions (id, incident_id, kind, target, params_json, actor, reason, dry_run, state,
                     result, error, created_at, started_at, finished_at, expires_at,
                     reverts_action_id)
SELECT id, incident_id, kind, target, params_json, actor, reason, dry_run, state, result, error,
       created_at, started_at, finished_at, expires_at, reverts_action_id
FROM temp.actions_v4 ORDER BY id;
INSERT INTO actions (incident_id, kind, target, params_json, actor, reason, dry_run, state,
                     result, error, created_at, started_at, finished_at)
SELECT incident_id, kind, target, params_json, actor, reason, dry_run, state, result, error,
       created_at, started_at, finished_at
FROM temp.incident_actions_v4 ORDER BY id;
DROP TABLE temp.actions_v4;
DROP TABLE temp.incident_actions_v4;
CREATE INDEX actions_by_target ON actions(target, created_at);
CREATE INDEX actions_by_incident ON actions(incident_id);
-- The hourly budget of automatic actions counts actor = 'auto' by created_at.
CREATE INDEX actions_by_actor_created ON actions(actor, created_at);
CREATE INDEX actions_unfinished ON actions(state) WHERE state IN ('planned', 'running');
)SQL"},
    // 6 ---------------------------------------------------------------------
    {"alerts: keep the webhook's externalURL with each alert event", R"SQL(
-- The worker links the Alertmanager that sent an alert; it no longer parses the
-- stored webhook body again to find it. Events still to be processed get it from
-- their webhook; done ones keep ''.
ALTER TABLE alerts ADD COLUMN external_url TEXT NOT NULL DEFAULT '';
UPDATE alerts SET external_url = coalesce(
    (SELECT json_extract(w.body, '$.externalURL') FROM webhooks w
     WHERE w.id = alerts.webhook_id AND json_valid(w.body)), '')
WHERE state != 'done';
)SQL"},
    // 7 ---------------------------------------------------------------------
    {"one incident per user: alerts that joined an open incident, and the messages the SMTP "
     "policy service's sending guard held",
     R"SQL(
-- A firing alert that names a user who already has an open incident joins that
-- incident instead of opening a second one (the sending guard's own alert and a
-- later SaslUserSendingSurge, in either order). The incident keeps the alert
-- that opened it (incidents.firing_alert_id); the others are listed here.
CREATE TABLE incident_joins (
    alert_id    INTEGER PRIMARY KEY REFERENCES alerts(id),
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    joined_at   INTEGER NOT NULL
);
CREATE INDEX incident_joins_by_incident ON incident_joins(incident_id);
-- Finding a user's open incident: logins compare in their canonical form (ASCII
-- letters lowercased, as SQLite's lower() does without ICU).
CREATE INDEX incidents_open_by_user ON incidents(lower(username)) WHERE status = 'open';
-- Messages the sending guard answered HOLD at the end of DATA (docs/policy-service.md),
-- tied to the user's incident once there is one.
CREATE TABLE guard_holds (
    id             INTEGER PRIMARY KEY,
    queue_id       TEXT NOT NULL,
    username       TEXT NOT NULL,           -- canonical login
    client_address TEXT NOT NULL,
    held_at        INTEGER NOT NULL,
    incident_id    INTEGER REFERENCES incidents(id)
);
CREATE INDEX guard_holds_by_incident ON guard_holds(incident_id);
CREATE INDEX guard_holds_unattached ON guard_holds(username) WHERE incident_id IS NULL;
)SQL"},
    // 8 ---------------------------------------------------------------------
    {"blocks: one form for every key (logins lowercase, IPv4-mapped addresses as IPv4)", R"SQL(
-- Postfix's maps fold keys to lowercase, so Bob@EXAMPLE.org and bob@example.org
-- were one block to smtpd but two rows here (an unblock of one left the other).
-- Case variants of one login merge into the row of the newest action; so do an
-- IPv4-mapped address and its IPv4 form. The action log keeps what was asked.
CREATE TEMP TABLE canonical_blocks AS
SELECT kind, target, action_id, rowid AS rid,
       CASE WHEN kind = 'ip' THEN
                CASE WHEN lower(target) LIKE '::ffff:%.%.%.%' THEN substr(target, 8) ELSE target END
            ELSE lower(target) END AS key
FROM blocks;
DELETE FROM blocks WHERE rowid IN (
    SELECT a.rid FROM canonical_blocks a JOIN canonical_blocks b
      ON b.kind = a.kind AND b.key = a.key AND b.rid != a.rid
     AND (b.action_id > a.action_id OR (b.action_id = a.action_id AND b.rid > a.rid)));
UPDATE blocks SET target = (SELECT key FROM canonical_blocks c WHERE c.rid = blocks.rowid)
WHERE target != (SELECT key FROM canonical_blocks c WHERE c.rid = blocks.rowid);
DROP TABLE temp.canonical_blocks;
)SQL"},
    // Append new steps here (one entry each).
};

}  // namespace

const std::vector<Migration>& migrations() {
    return kMigrations;
}

Result<int> schema_version(Database& db) {
    auto r = db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    if (!r) return r.error();
    auto v = db.query_int64("SELECT max(version) FROM schema_version");
    if (!v) return v.error();
    return static_cast<int>(v->value_or(0));
}

Result<int> migrate(Database& db) {
    return migrate(db, static_cast<int>(kMigrations.size()));
}

Result<int> migrate(Database& db, int target) {
    const int latest = static_cast<int>(kMigrations.size());
    for (;;) {
        auto tx =
            Transaction::begin(db);  // IMMEDIATE: two processes starting at once serialise here
        if (!tx) return tx.error();
        auto current = schema_version(db);
        if (!current) return current.error();
        if (*current > latest)
            return make_error("database schema version " + std::to_string(*current) +
                              " is newer than this program's " + std::to_string(latest));
        if (*current >= target) {
            if (auto c = tx->commit(); !c) return c.error();
            return *current;
        }
        const Migration& m = kMigrations[static_cast<std::size_t>(*current)];
        const int next = *current + 1;
        if (auto r = db.exec(m.sql); !r)
            return make_error("migration " + std::to_string(next) + " (" +
                              std::string(m.description) + "): " + r.error().message);
        if (auto r = db.exec("DELETE FROM schema_version; INSERT INTO schema_version VALUES (" +
                             std::to_string(next) + ")");
            !r)
            return r.error();
        if (auto c = tx->commit(); !c) return c.error();
    }
}

}  // namespace saslguard::receiver::store::sqlite
