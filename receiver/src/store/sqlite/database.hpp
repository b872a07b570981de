#pragma once
// The SQLite engine under the store (private to receiver/src/store: the
// repositories' SQLite implementations and the connection factory use it;
// everything else goes through store/state_store.hpp). sqlite3.h does not leak
// into this header.
//
// Contract:
// - One Database is one connection. It may be used from one thread at a time;
//   the factory gives each session its own connection to the same file. WAL
//   mode lets readers run beside one writer; writers wait up to `busy_timeout`
//   for each other instead of failing.
// - open() sets journal_mode=WAL, synchronous (FULL by default: a COMMIT that
//   returned is on disk, see docs/receiver.md), foreign_keys=ON, busy_timeout,
//   and runs the migrations (migrations.hpp) unless told not to.
// - Every fallible call returns Result; the error names the statement's first
//   words and SQLite's message. Nothing throws.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "saslguard/common/result.hpp"
#include "store/sql.hpp"

struct sqlite3;

namespace saslguard::receiver::store::sqlite {

// The statement type of this engine is the store's (sql.hpp).
using Statement = sql::Statement;

struct DatabaseOptions {
    int busy_timeout_ms = 5000;
    // "FULL" (default: durable at COMMIT) or "NORMAL" (WAL: may lose the last
    // commits on power loss, never corrupts). Anything else is rejected.
    std::string synchronous = "FULL";
    bool run_migrations = true;
    bool read_only = false;
};

class Database final : public sql::Connection {
public:
    // Opens (creating it and its parent directory's file when missing) and migrates.
    static Result<std::unique_ptr<Database>> open(const std::string& path,
                                                  const DatabaseOptions& options = {});
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    sql::Dialect dialect() const override { return sql::Dialect::Sqlite; }
    // Runs one or more ;-separated statements without results.
    Result<void> exec(std::string_view sql) override;
    Result<Statement> prepare(std::string_view sql) override;
    int changes() const override;  // rows changed by the last INSERT/UPDATE/DELETE
    // True inside a Transaction of this connection.
    bool in_transaction() const override { return m_in_transaction; }
    // BEGIN IMMEDIATE under the process's write lock (Transaction below).
    Result<std::unique_ptr<store::Transaction>> begin() override;
    // A passive WAL checkpoint: copies what no reader needs, never waits for writers.
    void housekeeping() override;
    std::string location() const override { return m_path; }

    std::int64_t last_insert_rowid() const;
    const std::string& path() const { return m_path; }

    sqlite3* handle() { return m_db; }  // escape hatch; prefer the methods above

    // Connections of one process that share a mutex here hand the write lock to
    // each other directly: Transaction::begin() takes the mutex before BEGIN.
    // Without it SQLite's busy handler polls with sleeps of up to 100 ms, which
    // a webhook waiting for its commit would feel. Other processes (saslguardctl)
    // still meet busy_timeout.
    void set_write_lock(std::shared_ptr<std::mutex> lock) { m_write_lock = std::move(lock); }
    const std::shared_ptr<std::mutex>& write_lock() const { return m_write_lock; }

private:
    friend class Transaction;
    Database(sqlite3* db, std::string path) : m_db(db), m_path(std::move(path)) {}
    sqlite3* m_db = nullptr;
    std::string m_path;
    std::shared_ptr<std::mutex> m_write_lock;
    bool m_in_transaction = false;
};

// RAII transaction. BEGIN IMMEDIATE by default: a writer takes the write lock up
// front (waiting up to busy_timeout) rather than failing halfway with SQLITE_BUSY.
// Rolled back by the destructor unless commit() succeeded.
class Transaction {
public:
    enum class Kind { Deferred, Immediate };
    static Result<Transaction> begin(Database& db, Kind kind = Kind::Immediate);
    Transaction(Transaction&& other) noexcept;
    Transaction& operator=(Transaction&&) = delete;
    ~Transaction();
    Result<void> commit();
    void rollback();

private:
    Transaction(Database& db, std::unique_lock<std::mutex> lock)
        : m_db(&db), m_lock(std::move(lock)) {}
    Database* m_db;
    std::unique_lock<std::mutex> m_lock;  // the process-wide write lock, when set
    bool m_open = true;
};

}  // namespace saslguard::receiver::store::sqlite
