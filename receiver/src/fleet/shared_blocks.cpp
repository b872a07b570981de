#include "saslguard/receiver/fleet/shared_blocks.hpp"

#include <map>

#include "pg.hpp"
#include "saslguard/common/log.hpp"

namespace saslguard::receiver::fleet {

std::string schema_sql() {
    return "CREATE TABLE IF NOT EXISTS saslguard_blocks (\n"
           "  kind text NOT NULL CHECK (kind IN ('login', 'ip')),\n"
           "  target text NOT NULL,\n"
           "  host text NOT NULL,\n"
           "  action text NOT NULL,\n"
           "  since timestamptz NOT NULL,\n"
           "  expires_at timestamptz,\n"
           "  published_at timestamptz NOT NULL DEFAULT now(),\n"
           "  PRIMARY KEY (kind, target, host)\n"
           ")";
}

// Postfix expands %s to the lookup key, quoted for SQL by Postfix itself.
// Logins are kept in their canonical lowercase form; lower() also folds the key.
std::string postfix_login_query() {
    return "SELECT action FROM saslguard_blocks WHERE kind = 'login' AND target = lower('%s') "
           "AND (expires_at IS NULL OR expires_at > now()) LIMIT 1";
}

std::string postfix_ip_query() {
    return "SELECT action FROM saslguard_blocks WHERE kind = 'ip' AND target = lower('%s') "
           "AND (expires_at IS NULL OR expires_at > now()) LIMIT 1";
}

Result<std::vector<FleetBlock>> read_fleet_blocks(const std::string& conninfo, std::size_t limit) {
    pg::Connection db(conninfo);
    if (auto r = db.ensure(schema_sql()); !r) return r.error();
    auto rows = db.exec(
        "SELECT kind, target, host, floor(extract(epoch FROM since) * 1000)::bigint, "
        "floor(extract(epoch FROM expires_at) * 1000)::bigint FROM saslguard_blocks "
        "WHERE expires_at IS NULL OR expires_at > now() ORDER BY since DESC, host, kind, target "
        "LIMIT $1::bigint",
        {std::to_string(limit)});
    if (!rows) return rows.error();
    std::vector<FleetBlock> out;
    for (const auto& row : *rows) {
        FleetBlock b;
        b.kind = row[0].value_or("");
        b.target = row[1].value_or("");
        b.host = row[2].value_or("");
        if (row[3]) b.since_ms = std::stoll(*row[3]);
        if (row[4]) b.expires_at_ms = std::stoll(*row[4]);
        out.push_back(std::move(b));
    }
    return out;
}

// The publisher's connection (the fleet's one libpq wrapper, pg.hpp).
struct SharedBlocks::Connection {
    explicit Connection(std::string conninfo) : db(std::move(conninfo)) {}
    pg::Connection db;
};

SharedBlocks::SharedBlocks(SharedBlocksSettings settings, mitigation::ActiveBlocks& blocks)
    : m_settings(std::move(settings)),
      m_blocks(blocks),
      m_conn(std::make_unique<Connection>(m_settings.conninfo)) {}

SharedBlocks::~SharedBlocks() {
    stop();
}

void SharedBlocks::start() {
    m_subscription = m_blocks.subscribe([this](const mitigation::BlockChange&) {
        {
            std::lock_guard lock(m_mutex);
            m_changed = true;
        }
        m_cv.notify_one();
    });
    m_thread = std::thread([this] { run(); });
}

void SharedBlocks::stop() {
    {
        std::lock_guard lock(m_mutex);
        if (m_stop && !m_thread.joinable()) return;
        m_stop = true;
    }
    m_cv.notify_one();
    if (m_thread.joinable()) m_thread.join();
    if (m_subscription) m_blocks.unsubscribe(m_subscription);
    m_subscription = 0;
}

void SharedBlocks::run() {
    bool down_logged = false;
    std::unique_lock lock(m_mutex);
    while (!m_stop) {
        if (!m_changed) {
            m_cv.wait(lock, [this] { return m_stop || m_changed; });
            continue;
        }
        m_changed = false;
        lock.unlock();
        std::string error;
        bool ok = publish(m_blocks.snapshot(), error);
        m_healthy = ok;
        if (ok) {
            ++m_published;
            if (down_logged)
                log::info("shared blocks published again", {{"host", m_settings.host}});
            down_logged = false;
        } else if (!down_logged) {
            log::warn(
                "shared blocks not published (PostgreSQL); this host's maps still block, "
                "other hosts do not see the change until it is back",
                {{"error", error}});
            down_logged = true;
        }
        lock.lock();
        if (!ok) {
            m_changed = true;  // retry after the pause, with whatever is in force then
            m_cv.wait_for(lock, m_settings.retry, [this] { return m_stop; });
        }
    }
}

bool SharedBlocks::publish(const std::vector<mitigation::BlockRecord>& blocks, std::string& error) {
    auto& db = m_conn->db;
    auto published = [&]() -> Result<void> {
        if (auto r = db.ensure(schema_sql()); !r) return r;
        // This host's rows, replaced as a whole: what is in force here, no more.
        pg::Transaction tx(db);
        if (auto r = tx.begin(); !r) return r;
        // A row still in force keeps its published_at (when other hosts
        // first saw it: the propagation figure), however often it is rewritten.
        auto old = db.exec(
            "DELETE FROM saslguard_blocks WHERE host = $1 "
            "RETURNING kind || ' ' || target, published_at::text",
            {m_settings.host});
        if (!old) return old.error();
        std::map<std::string, std::string> first_published;
        for (const auto& row : *old)
            if (row[0] && row[1]) first_published[*row[0]] = *row[1];
        for (const auto& b : blocks) {
            if (b.kind != "login" && b.kind != "ip") continue;  // only what Postfix looks up
            const std::string& action =
                b.kind == "login" ? m_settings.login_action : m_settings.ip_action;
            pg::Param expires;
            if (b.expires_at) expires = std::to_string(*b.expires_at / 1000.0);
            pg::Param first;
            if (auto it = first_published.find(b.kind + " " + b.target);
                it != first_published.end())
                first = it->second;
            auto r = db.run(
                "INSERT INTO saslguard_blocks (kind, target, host, action, since, expires_at, "
                "published_at) VALUES ($1, lower($2), $3, $4, to_timestamp($5::float8), "
                "to_timestamp($6::float8), COALESCE($7::timestamptz, now())) "
                "ON CONFLICT DO NOTHING",
                {b.kind, b.target, m_settings.host, action, std::to_string(b.created_at / 1000.0),
                 expires, first});
            if (!r) return r;
        }
        return tx.commit();
    }();
    if (published) return true;
    error = published.error().message;
    return false;
}

}  // namespace saslguard::receiver::fleet
