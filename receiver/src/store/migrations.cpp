// The receiver's schema, as an append-only list of migration steps.
//
// HOW TO ADD A STEP: append ONE entry at the end of kMigrations (before the
// closing brace). Never edit, reorder or remove a committed entry — databases in
// the field have run it. Version numbers are positions (1-based), so appending
// is a one-entry edit. Timestamps are Unix milliseconds (INTEGER) unless a column
// says otherwise; JSON columns hold objects written by nlohmann::json.
#include "saslguard/receiver/migrations.hpp"

#include <string>

#include "saslguard/receiver/database.hpp"

namespace saslguard::receiver {
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
        if (*current == latest) {
            if (auto c = tx->commit(); !c) return c.error();
            return latest;
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

}  // namespace saslguard::receiver
