// The fleet's coordination tables and the Telegram front over PostgreSQL
// (contracts in coordination.hpp; docs/fleet.md).
#include "saslguard/receiver/fleet/coordination.hpp"

#include <sys/select.h>

#include <algorithm>
#include <charconv>

#include "pg.hpp"
#include "saslguard/common/log.hpp"

namespace saslguard::receiver::fleet {

std::string coordination_schema_sql() {
    // The advisory xact lock serialises concurrent CREATEs of several receivers
    // starting together (CREATE TABLE IF NOT EXISTS alone can still collide).
    return "BEGIN;\n"
           "SELECT pg_advisory_xact_lock(hashtext('saslguard.schema'));\n"
           "CREATE TABLE IF NOT EXISTS saslguard_fleet_hosts (\n"
           "  host text PRIMARY KEY,\n"
           "  seen_at timestamptz NOT NULL DEFAULT now());\n"
           "CREATE TABLE IF NOT EXISTS saslguard_telegram_front (\n"
           "  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),\n"
           "  update_offset bigint NOT NULL DEFAULT 0,\n"
           "  poller text,\n"
           "  poller_since timestamptz);\n"
           "INSERT INTO saslguard_telegram_front (singleton) VALUES (true) ON CONFLICT DO "
           "NOTHING;\n"
           "CREATE TABLE IF NOT EXISTS saslguard_telegram_updates (\n"
           "  update_id bigint PRIMARY KEY,\n"
           "  kind text NOT NULL,\n"
           "  handled_by text NOT NULL,\n"
           "  handled_at timestamptz NOT NULL DEFAULT now());\n"
           "CREATE TABLE IF NOT EXISTS saslguard_fleet_requests (\n"
           "  id bigserial PRIMARY KEY,\n"
           "  update_id bigint NOT NULL UNIQUE,\n"
           "  host text NOT NULL,\n"
           "  incident_id bigint NOT NULL,\n"
           "  pressed_by text NOT NULL,\n"
           "  payload text NOT NULL,\n"
           "  forwarded_by text NOT NULL,\n"
           "  state text NOT NULL DEFAULT 'pending'\n"
           "    CHECK (state IN ('pending', 'running', 'done', 'failed')),\n"
           "  created_at timestamptz NOT NULL DEFAULT now(),\n"
           "  claimed_at timestamptz,\n"
           "  finished_at timestamptz,\n"
           "  result text);\n"
           "ALTER TABLE saslguard_fleet_requests ADD COLUMN IF NOT EXISTS late_reported_at "
           "timestamptz;\n"
           "CREATE INDEX IF NOT EXISTS saslguard_fleet_requests_pending\n"
           "  ON saslguard_fleet_requests (host, id) WHERE state = 'pending';\n"
           "CREATE TABLE IF NOT EXISTS saslguard_fleet_alerts (\n"
           "  fingerprint text NOT NULL,\n"
           "  starts_at text NOT NULL,\n"
           "  owner text NOT NULL,\n"
           "  stored_by text NOT NULL,\n"
           "  stored_at timestamptz NOT NULL DEFAULT now(),\n"
           "  PRIMARY KEY (fingerprint, starts_at));\n"
           "COMMIT;";
}

namespace {

constexpr const char* kChannel = "saslguard_fleet_requests";
constexpr const char* kLockKey = "hashtext('saslguard.telegram_poller')";

std::int64_t to_int(const std::optional<std::string>& s) {
    std::int64_t v = 0;
    if (s) std::from_chars(s->data(), s->data() + s->size(), v);
    return v;
}

}  // namespace

// ---------------------------------------------------------------- TelegramFront

struct PgTelegramFront::Impl {
    explicit Impl(const std::string& conninfo) : ops(conninfo), lock(conninfo) {}
    std::mutex ops_mutex;  // the poller and the inbox threads share `ops`
    pg::Connection ops;
    pg::Connection lock;  // election thread only: the advisory lock and LISTEN
    bool requeued = false;
};

PgTelegramFront::PgTelegramFront(CoordinationSettings settings)
    : m_settings(std::move(settings)), m_impl(std::make_unique<Impl>(m_settings.conninfo)) {}

PgTelegramFront::~PgTelegramFront() {
    stop();
}

void PgTelegramFront::start() {
    {
        std::lock_guard lock(m_mutex);
        m_stop = false;
    }
    m_thread = std::thread([this] { run(); });
}

void PgTelegramFront::stop() {
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_cv.notify_all();
    if (m_thread.joinable()) m_thread.join();
    m_impl->lock.close();  // ends the session: the lock is free for another receiver
    m_leading = false;
}

void PgTelegramFront::wake_requests() {
    {
        std::lock_guard lock(m_mutex);
        m_request_wake = true;
    }
    m_cv.notify_all();
}

void PgTelegramFront::wait_for_request(std::chrono::milliseconds max) {
    std::unique_lock lock(m_mutex);
    m_cv.wait_for(lock, max, [this] { return m_stop || m_request_wake; });
    m_request_wake = false;
}

// The election thread: connect (LISTEN), try the lock while not holding it,
// check the connection while holding it, heartbeat this host, and wake the
// inbox on a NOTIFY addressed to this host. A lost connection ends the lead at
// once (the server has released the lock with the session).
void PgTelegramFront::run() {
    auto& c = m_impl->lock;
    bool down_logged = false;
    auto lose = [&](const std::string& why) {
        if (m_leading.exchange(false))
            log::warn("telegram poller: lost the PostgreSQL lock, polling stops",
                      {{"host", m_settings.host}, {"error", why}});
        else if (!down_logged)
            log::warn("fleet: PostgreSQL unreachable, not polling Telegram",
                      {{"host", m_settings.host}, {"error", why}});
        down_logged = true;
        c.close();
    };
    for (;;) {
        {
            std::lock_guard lock(m_mutex);
            if (m_stop) return;
        }
        auto step = [&]() -> Result<void> {
            if (!c.connected()) {
                if (auto r = c.ensure(coordination_schema_sql()); !r) return r;
                if (auto r = c.run(std::string("LISTEN ") + kChannel); !r) return r;
                if (down_logged)
                    log::info("fleet: PostgreSQL reachable again", {{"host", m_settings.host}});
                down_logged = false;
            }
            if (!m_impl->requeued) {
                // Rows this host was running when it stopped (a crash): taken again;
                // the host's own store skips what had been handled.
                auto r = c.exec(
                    "UPDATE saslguard_fleet_requests SET state = 'pending' "
                    "WHERE host = $1 AND state = 'running' RETURNING id",
                    {m_settings.host});
                if (!r) return r.error();
                if (!r->empty())
                    log::info("fleet: requests interrupted by a restart taken again",
                              {{"requests", std::to_string(r->size())}});
                m_impl->requeued = true;
                wake_requests();
            }
            if (auto r = c.run("INSERT INTO saslguard_fleet_hosts (host) VALUES ($1) ON CONFLICT "
                               "(host) DO UPDATE SET seen_at = now()",
                               {m_settings.host});
                !r)
                return r;
            if (!m_leading) {
                auto r = c.exec(std::string("SELECT pg_try_advisory_lock(") + kLockKey + ")");
                if (!r) return r.error();
                if (!r->empty() && (*r)[0][0] == std::optional<std::string>("t")) {
                    if (auto u = c.run("UPDATE saslguard_telegram_front SET poller = $1, "
                                       "poller_since = now()",
                                       {m_settings.host});
                        !u)
                        return u;
                    m_leading = true;
                    log::info("telegram poller: took the PostgreSQL lock, this receiver polls",
                              {{"host", m_settings.host}});
                }
            }
            return {};
        }();
        if (!step) lose(step.error().message);
        // Sleep until the next round, a NOTIFY, or stop.
        const auto until = std::chrono::steady_clock::now() + m_settings.retry;
        while (std::chrono::steady_clock::now() < until) {
            {
                std::lock_guard lock(m_mutex);
                if (m_stop) return;
            }
            if (!c.connected()) {
                std::unique_lock lock(m_mutex);
                m_cv.wait_until(lock, until, [this] { return m_stop; });
                break;
            }
            const int fd = PQsocket(c.raw());
            fd_set fds;
            FD_ZERO(&fds);
            FD_SET(fd, &fds);
            timeval tv{0, 200 * 1000};  // stop is checked at least this often
            if (::select(fd + 1, &fds, nullptr, nullptr, &tv) < 0) continue;
            if (!PQconsumeInput(c.raw()) || PQstatus(c.raw()) != CONNECTION_OK) {
                lose(pg::trimmed(PQerrorMessage(c.raw())));
                break;
            }
            bool mine = false;
            while (PGnotify* n = PQnotifies(c.raw())) {
                if (m_settings.host == n->extra) mine = true;
                PQfreemem(n);
            }
            if (mine) wake_requests();
        }
    }
}

Result<std::int64_t> PgTelegramFront::offset() {
    std::lock_guard lock(m_impl->ops_mutex);
    if (auto r = m_impl->ops.ensure(coordination_schema_sql()); !r) return r.error();
    auto r = m_impl->ops.exec("SELECT update_offset FROM saslguard_telegram_front");
    if (!r) return r.error();
    return r->empty() ? 0 : to_int((*r)[0][0]);
}

Result<void> PgTelegramFront::advance_offset(std::int64_t next) {
    std::lock_guard lock(m_impl->ops_mutex);
    if (auto r = m_impl->ops.ensure(coordination_schema_sql()); !r) return r;
    return m_impl->ops.run(
        "UPDATE saslguard_telegram_front SET update_offset = GREATEST(update_offset, $1::bigint)",
        {std::to_string(next)});
}

namespace {

// The claim of one update in the caller's transaction: false when it was there.
Result<bool> claim_in(pg::Connection& c, std::int64_t update_id, std::string_view kind,
                      const std::string& by) {
    auto r = c.exec(
        "INSERT INTO saslguard_telegram_updates (update_id, kind, handled_by) "
        "VALUES ($1::bigint, $2, $3) ON CONFLICT DO NOTHING RETURNING update_id",
        {std::to_string(update_id), std::string(kind), by});
    if (!r) return r.error();
    if (r->empty()) return false;
    if (auto u = c.run("UPDATE saslguard_telegram_front "
                       "SET update_offset = GREATEST(update_offset, $1::bigint + 1)",
                       {std::to_string(update_id)});
        !u)
        return u.error();
    return true;
}

}  // namespace

Result<bool> PgTelegramFront::claim_update(std::int64_t update_id, std::string_view kind) {
    std::lock_guard lock(m_impl->ops_mutex);
    auto& c = m_impl->ops;
    if (auto r = c.ensure(coordination_schema_sql()); !r) return r.error();
    pg::Transaction tx(c);
    if (auto r = tx.begin(); !r) return r.error();
    auto claimed = claim_in(c, update_id, kind, m_settings.host);
    if (!claimed || !*claimed) return claimed;
    if (auto r = tx.commit(); !r) return r.error();
    return true;
}

Result<bool> PgTelegramFront::forward_press(std::int64_t update_id, std::string_view host,
                                            std::int64_t incident_id, std::string_view pressed_by,
                                            std::string_view payload_json) {
    {
        std::lock_guard lock(m_impl->ops_mutex);
        auto& c = m_impl->ops;
        if (auto r = c.ensure(coordination_schema_sql()); !r) return r.error();
        pg::Transaction tx(c);
        if (auto r = tx.begin(); !r) return r.error();
        auto claimed = claim_in(c, update_id, "press", m_settings.host);
        if (!claimed || !*claimed) return claimed;
        if (auto r =
                c.run("INSERT INTO saslguard_fleet_requests (update_id, host, incident_id, "
                      "pressed_by, payload, forwarded_by) "
                      "VALUES ($1::bigint, $2, $3::bigint, $4, $5, $6)",
                      {std::to_string(update_id), std::string(host), std::to_string(incident_id),
                       std::string(pressed_by), std::string(payload_json), m_settings.host});
            !r)
            return r.error();
        // Delivered at COMMIT, to every listener; the addressee wakes.
        if (auto r = c.run("SELECT pg_notify($1, $2)", {std::string(kChannel), std::string(host)});
            !r)
            return r.error();
        if (auto r = tx.commit(); !r) return r.error();
    }
    if (host == m_settings.host) wake_requests();
    return true;
}

Result<std::optional<HostRequest>> PgTelegramFront::take_request() {
    std::lock_guard lock(m_impl->ops_mutex);
    auto& c = m_impl->ops;
    if (auto r = c.ensure(coordination_schema_sql()); !r) return r.error();
    // One statement: the row is claimed once, whoever else looks at it.
    auto r = c.exec(
        "UPDATE saslguard_fleet_requests SET state = 'running', claimed_at = now() "
        "WHERE id = (SELECT id FROM saslguard_fleet_requests WHERE host = $1 AND "
        "state = 'pending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) AND state = 'pending' "
        "RETURNING id, update_id, payload, pressed_by, forwarded_by",
        {m_settings.host});
    if (!r) return r.error();
    if (r->empty()) return std::optional<HostRequest>();
    const auto& row = (*r)[0];
    HostRequest q;
    q.id = to_int(row[0]);
    q.update_id = to_int(row[1]);
    q.payload_json = row[2].value_or("");
    q.pressed_by = row[3].value_or("");
    q.forwarded_by = row[4].value_or("");
    return std::optional<HostRequest>(std::move(q));
}

Result<void> PgTelegramFront::finish_request(std::int64_t id, bool ok, std::string_view result) {
    std::lock_guard lock(m_impl->ops_mutex);
    auto& c = m_impl->ops;
    if (auto r = c.ensure(coordination_schema_sql()); !r) return r;
    return c.run(
        "UPDATE saslguard_fleet_requests SET state = $2, finished_at = now(), result = $3 "
        "WHERE id = $1::bigint AND state = 'running'",
        {std::to_string(id), std::string(ok ? "done" : "failed"), std::string(result)});
}

Result<std::vector<LateRequest>> PgTelegramFront::report_late_requests() {
    std::lock_guard lock(m_impl->ops_mutex);
    auto& c = m_impl->ops;
    if (auto r = c.ensure(coordination_schema_sql()); !r) return r.error();
    // One statement: each late row is reported once, however many pollers ask.
    auto r = c.exec(
        "WITH late AS (SELECT r.id, (SELECT h.seen_at FROM saslguard_fleet_hosts h "
        "WHERE h.host = r.host) AS seen_at FROM saslguard_fleet_requests r "
        "WHERE r.state = 'pending' AND r.late_reported_at IS NULL "
        "AND r.created_at < now() - $1::bigint * interval '1 second' "
        "ORDER BY r.id LIMIT 20 FOR UPDATE OF r SKIP LOCKED) "
        "UPDATE saslguard_fleet_requests r SET late_reported_at = now(), "
        "state = CASE WHEN late.seen_at IS NULL THEN 'failed' ELSE r.state END, "
        "finished_at = CASE WHEN late.seen_at IS NULL THEN now() ELSE r.finished_at END, "
        "result = CASE WHEN late.seen_at IS NULL THEN 'no receiver of the fleet has this name' "
        "ELSE r.result END "
        "FROM late WHERE r.id = late.id AND r.state = 'pending' "
        "RETURNING r.id, r.host, r.payload, "
        "floor(extract(epoch FROM now() - late.seen_at))::bigint",
        {std::to_string(m_settings.late_after.count())});
    if (!r) return r.error();
    std::vector<LateRequest> out;
    for (const auto& row : *r) {
        LateRequest q;
        q.id = to_int(row[0]);
        q.host = row[1].value_or("");
        q.payload_json = row[2].value_or("");
        if (row[3]) q.host_silent_for = to_int(row[3]);
        out.push_back(std::move(q));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
}

Result<std::int64_t> PgTelegramFront::prune() {
    std::lock_guard lock(m_impl->ops_mutex);
    auto& c = m_impl->ops;
    if (auto r = c.ensure(coordination_schema_sql()); !r) return r.error();
    const std::string batch = std::to_string(std::max(1, m_settings.prune_batch));
    const std::string retention =
        std::to_string(std::chrono::seconds(m_settings.retention).count());
    const std::string updates =
        std::to_string(std::chrono::seconds(m_settings.updates_retention).count());
    // Each statement deletes one batch (short transactions, short locks); a
    // table is done when a batch comes back short. Pending and running
    // requests are never pruned, nor an update id at or above the offset.
    struct Table {
        const char* sql;
        const std::string* age;
    };
    const Table tables[] = {
        {"DELETE FROM saslguard_telegram_updates WHERE update_id IN (SELECT update_id FROM "
         "saslguard_telegram_updates WHERE update_id < (SELECT update_offset FROM "
         "saslguard_telegram_front) AND handled_at < now() - $1::bigint * interval '1 second' "
         "LIMIT $2::int)",
         &updates},
        {"DELETE FROM saslguard_fleet_requests WHERE id IN (SELECT id FROM "
         "saslguard_fleet_requests WHERE state IN ('done', 'failed') AND finished_at < now() - "
         "$1::bigint * interval '1 second' LIMIT $2::int)",
         &retention},
        {"DELETE FROM saslguard_fleet_alerts WHERE (fingerprint, starts_at) IN (SELECT "
         "fingerprint, starts_at FROM saslguard_fleet_alerts WHERE stored_at < now() - "
         "$1::bigint * interval '1 second' LIMIT $2::int)",
         &retention},
        {"DELETE FROM saslguard_fleet_hosts WHERE host IN (SELECT host FROM "
         "saslguard_fleet_hosts WHERE seen_at < now() - $1::bigint * interval '1 second' "
         "LIMIT $2::int)",
         &retention},
    };
    std::int64_t total = 0;
    for (const auto& t : tables) {
        for (int round = 0; round < 100; ++round) {  // at most 100 batches a table a call
            auto r = c.exec(std::string(t.sql) + " RETURNING 1", {*t.age, batch});
            if (!r) return r.error();
            total += static_cast<std::int64_t>(r->size());
            if (r->size() < static_cast<std::size_t>(std::max(1, m_settings.prune_batch))) break;
        }
    }
    return total;
}

// ---------------------------------------------------------------- AlertClaims

struct AlertClaims::Impl {
    explicit Impl(CoordinationSettings s) : settings(std::move(s)), conn(settings.conninfo) {}
    CoordinationSettings settings;
    std::mutex mutex;
    pg::Connection conn;
};

AlertClaims::AlertClaims(CoordinationSettings settings)
    : m_impl(std::make_unique<Impl>(std::move(settings))) {}
AlertClaims::~AlertClaims() = default;

std::string AlertClaims::named_host(const Alert& alert) {
    if (auto h = alert.label("host"); !h.empty()) return h;
    std::string instance = alert.label("instance");
    if (instance.empty()) return {};
    if (instance.front() == '[') {  // [v6]:port
        auto end = instance.find(']');
        return end == std::string::npos ? instance : instance.substr(1, end - 1);
    }
    auto colon = instance.find(':');
    return colon == std::string::npos ? instance : instance.substr(0, colon);
}

Result<WebhookPayload> AlertClaims::mine(const WebhookPayload& payload) {
    std::lock_guard lock(m_impl->mutex);
    auto& c = m_impl->conn;
    if (auto r = c.ensure(coordination_schema_sql()); !r) return r.error();
    WebhookPayload out = payload;
    out.alerts.clear();
    const std::string& me = m_impl->settings.host;
    for (const auto& a : payload.alerts) {
        // The named host owns the alert if it is a receiver of the fleet (seen
        // in the last 10 minutes); else the first receiver to store it does.
        auto r = c.exec(
            "WITH owner AS (SELECT COALESCE((SELECT host FROM saslguard_fleet_hosts WHERE host = "
            "$3::text "
            "AND seen_at > now() - interval '10 minutes'), $4) AS host), "
            "ins AS (INSERT INTO saslguard_fleet_alerts (fingerprint, starts_at, owner, stored_by) "
            "SELECT $1::text, $2::text, host, $4::text FROM owner ON CONFLICT DO NOTHING "
            "RETURNING owner) "
            "SELECT owner FROM ins UNION ALL SELECT owner FROM saslguard_fleet_alerts "
            "WHERE fingerprint = $1::text AND starts_at = $2::text LIMIT 1",
            {a.fingerprint, a.starts_at, named_host(a), me});
        if (!r) return r.error();
        if (r->empty())  // another receiver committed it after this statement began
            r = c.exec(
                "SELECT owner FROM saslguard_fleet_alerts WHERE fingerprint = $1 AND starts_at = "
                "$2",
                {a.fingerprint, a.starts_at});
        if (!r) return r.error();
        if (r->empty())
            return make_error("PostgreSQL: no owner recorded for alert " + a.fingerprint);
        if ((*r)[0][0].value_or("") == me) out.alerts.push_back(a);
    }
    return out;
}

Result<FleetView> read_fleet_view(const std::string& conninfo) {
    pg::Connection c(conninfo);
    if (auto r = c.ensure(coordination_schema_sql()); !r) return r.error();
    // The poller column names the last holder; the lock itself says whether
    // anyone holds it now (pg_locks: a one-bigint advisory key shows its low
    // 32 bits as objid, objsubid 1).
    auto p = c.exec(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND objsubid = 1 AND objid::bigint = (" +
        std::string(kLockKey) +
        "::bigint & 4294967295)) THEN poller ELSE '' END FROM saslguard_telegram_front");
    if (!p) return p.error();
    FleetView v;
    if (!p->empty()) v.poller = (*p)[0][0].value_or("");
    auto h = c.exec(
        "SELECT host, floor(extract(epoch FROM now() - seen_at))::bigint FROM "
        "saslguard_fleet_hosts WHERE seen_at > now() - interval '10 minutes' ORDER BY host");
    if (!h) return h.error();
    for (const auto& row : *h) v.hosts.emplace_back(row[0].value_or(""), to_int(row[1]));
    return v;
}

// ---------------------------------------------------------------- callback_data

std::string callback_data(std::string_view host, std::int64_t incident_id, std::string_view token) {
    if (host.empty()) return std::string(token);
    return std::string(host) + "/" + std::to_string(incident_id) + "/" + std::string(token);
}

CallbackAddress parse_callback_data(std::string_view data) {
    CallbackAddress a;
    auto first = data.find('/');
    auto last = data.rfind('/');
    if (first == std::string_view::npos || first == last) {
        a.token = std::string(data);
        return a;
    }
    a.host = std::string(data.substr(0, first));
    auto id = data.substr(first + 1, last - first - 1);
    std::from_chars(id.data(), id.data() + id.size(), a.incident_id);
    a.token = std::string(data.substr(last + 1));
    return a;
}

}  // namespace saslguard::receiver::fleet
