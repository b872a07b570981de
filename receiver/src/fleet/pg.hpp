#pragma once
// One libpq connection for the fleet's coordination (private to src/fleet).
// Every statement is parameterised (values never reach the SQL text); a broken
// connection is closed and reopened by the next ensure(). Not thread-safe: the
// owner serialises the calls.
#include <libpq-fe.h>

#include <optional>
#include <string>
#include <vector>

#include "saslguard/common/result.hpp"

namespace saslguard::receiver::fleet::pg {

using Param = std::optional<std::string>;  // nullopt: SQL NULL
using Row = std::vector<std::optional<std::string>>;

class Connection {
public:
    explicit Connection(std::string conninfo) : m_conninfo(std::move(conninfo)) {}
    ~Connection() { close(); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Connects unless connected; `schema` (if any) runs on every new connection
    // (CREATE TABLE IF NOT EXISTS … under a transaction-level advisory lock).
    Result<void> ensure(const std::string& schema = {});
    // One statement; the rows it returned. Closes the connection when it broke.
    Result<std::vector<Row>> exec(const std::string& sql, const std::vector<Param>& params = {});
    // exec() for statements without rows.
    Result<void> run(const std::string& sql, const std::vector<Param>& params = {});
    bool connected() const { return m_pg && PQstatus(m_pg) == CONNECTION_OK; }
    // Rows the last INSERT, UPDATE or DELETE changed (other commands leave it).
    int changes() const { return m_changes; }
    void close();
    PGconn* raw() { return m_pg; }

private:
    std::string m_conninfo;
    PGconn* m_pg = nullptr;
    int m_changes = 0;
};

// A transaction on a connection: rolled back unless committed.
class Transaction {
public:
    explicit Transaction(Connection& c) : m_c(c) {}
    ~Transaction() {
        if (m_open && m_c.connected()) (void)m_c.run("ROLLBACK");
    }
    Result<void> begin() {
        auto r = m_c.run("BEGIN");
        m_open = r.ok();
        return r;
    }
    Result<void> commit() {
        m_open = false;
        return m_c.run("COMMIT");
    }

private:
    Connection& m_c;
    bool m_open = false;
};

// The message of a libpq error without its trailing newline.
std::string trimmed(const char* message);

}  // namespace saslguard::receiver::fleet::pg
