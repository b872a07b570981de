#pragma once
// The PostgreSQL engine under the store (private to receiver/src/store), over
// the project's one libpq wrapper (fleet/pg.hpp).
//
// Contract:
// - One Database is one connection, used by one thread at a time. It connects
//   lazily and again after a broken connection: a statement outside a
//   transaction, or begin(), first reconnects when needed. While PostgreSQL is
//   down every call fails with PostgreSQL's reason and nothing else changes.
// - Each receiver's tables are in a schema of its own (`saslguard_<host>` by
//   default, docs/fleet.md); every new connection sets search_path to it, so
//   the repositories' SQL is the same as with SQLite.
// - begin() is BEGIN plus pg_advisory_xact_lock on the schema: writers of one
//   host's schema (the receiver's threads, saslguardctl) take turns as SQLite's
//   IMMEDIATE makes them, and the lock goes with the transaction.
// - Durability: synchronous_commit on (Full) or off (Normal: a COMMIT returns
//   before its WAL is flushed; a PostgreSQL crash may lose the last few hundred
//   ms of such commits, never corrupts).
// - Placeholders `?N` become `$N`; values are sent as text parameters, never
//   put in the SQL.
#include <memory>
#include <string>
#include <vector>

#include "fleet/pg.hpp"
#include "saslguard/receiver/store/state_store.hpp"
#include "store/sql.hpp"

namespace saslguard::receiver::store::pg {

struct Options {
    std::string conninfo;
    std::string schema;  // checked by store::valid_schema()
    bool synchronous_commit = true;
};

class Database final : public sql::Connection {
public:
    explicit Database(Options options);
    sql::Dialect dialect() const override { return sql::Dialect::Postgresql; }
    Result<void> exec(std::string_view sql) override;
    Result<sql::Statement> prepare(std::string_view sql) override;
    int changes() const override { return m_conn.changes(); }
    bool in_transaction() const override { return m_in_transaction; }
    Result<std::unique_ptr<Transaction>> begin() override;
    std::string location() const override;
    std::string prepare_namespace_sql() const override;

    // One statement with its parameters (the statements' step()).
    Result<std::vector<receiver::fleet::pg::Row>> query(
        const std::string& sql, const std::vector<receiver::fleet::pg::Param>& params);
    // Connects (and sets the session up) unless connected.
    Result<void> ensure();

private:
    friend class PgTransaction;
    void end_transaction(bool commit_ok);
    Options m_options;
    receiver::fleet::pg::Connection m_conn;
    bool m_in_transaction = false;
    bool m_failed_in_transaction = false;  // PostgreSQL aborts the rest; COMMIT must fail
};

// `?N` placeholders as PostgreSQL's `$N` (outside quoted text), and the highest N.
std::string to_postgresql(std::string_view sql, int& max_param);

}  // namespace saslguard::receiver::store::pg
