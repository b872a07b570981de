#include "saslguard/receiver/fleet/shared_blocks.hpp"

#include <libpq-fe.h>

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

struct SharedBlocks::Connection {
    PGconn* pg = nullptr;
    ~Connection() { close(); }
    void close() {
        if (pg) PQfinish(pg);
        pg = nullptr;
    }
    // One statement without parameters; "" when it succeeded.
    std::string exec(const std::string& sql) {
        PGresult* r = PQexec(pg, sql.c_str());
        std::string error;
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
            error = PQresultErrorMessage(r);
        PQclear(r);
        return error;
    }
};

namespace {

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

SharedBlocks::SharedBlocks(SharedBlocksSettings settings, mitigation::ActiveBlocks& blocks)
    : m_settings(std::move(settings)), m_blocks(blocks), m_conn(std::make_unique<Connection>()) {}

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
                {{"error", trim(error)}});
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
    auto& c = *m_conn;
    if (c.pg && PQstatus(c.pg) != CONNECTION_OK) c.close();
    if (!c.pg) {
        c.pg = PQconnectdb(m_settings.conninfo.c_str());
        if (PQstatus(c.pg) != CONNECTION_OK) {
            error = PQerrorMessage(c.pg);
            c.close();
            return false;
        }
        if (error = c.exec(schema_sql()); !error.empty()) {
            c.close();
            return false;
        }
    }
    // This host's rows, replaced as a whole: what is in force here, no more.
    if (error = c.exec("BEGIN"); !error.empty()) return c.close(), false;
    const char* del_params[] = {m_settings.host.c_str()};
    PGresult* r = PQexecParams(c.pg, "DELETE FROM saslguard_blocks WHERE host = $1", 1, nullptr,
                               del_params, nullptr, nullptr, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) error = PQresultErrorMessage(r);
    PQclear(r);
    for (const auto& b : blocks) {
        if (!ok) break;
        if (b.kind != "login" && b.kind != "ip") continue;  // only what Postfix looks up
        const std::string& action =
            b.kind == "login" ? m_settings.login_action : m_settings.ip_action;
        std::string since = std::to_string(b.created_at / 1000.0);
        std::string expires = b.expires_at ? std::to_string(*b.expires_at / 1000.0) : "";
        const char* params[] = {b.kind.c_str(),          b.target.c_str(),
                                m_settings.host.c_str(), action.c_str(),
                                since.c_str(),           b.expires_at ? expires.c_str() : nullptr};
        r = PQexecParams(c.pg,
                         "INSERT INTO saslguard_blocks (kind, target, host, action, since, "
                         "expires_at) VALUES ($1, lower($2), $3, $4, to_timestamp($5::float8), "
                         "to_timestamp($6::float8)) ON CONFLICT DO NOTHING",
                         6, nullptr, params, nullptr, nullptr, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) error = PQresultErrorMessage(r);
        PQclear(r);
    }
    if (!ok) {
        c.exec("ROLLBACK");
        if (PQstatus(c.pg) != CONNECTION_OK) c.close();
        return false;
    }
    if (error = c.exec("COMMIT"); !error.empty()) {
        c.close();
        return false;
    }
    return true;
}

}  // namespace saslguard::receiver::fleet
