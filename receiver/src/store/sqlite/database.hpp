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

struct sqlite3;
struct sqlite3_stmt;

namespace saslguard::receiver::store::sqlite {

class Database;

// A prepared statement. Parameters are 1-based (as in SQLite); columns 0-based.
// bind_*() remember the first error and report it from step()/run().
class Statement {
public:
    Statement() = default;
    ~Statement();
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&& other) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
    Statement& bind(int index, double value);
    Statement& bind(int index, std::string_view text);  // copied by SQLite
    Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    Statement& bind(int index, const std::string& text) {
        return bind(index, std::string_view(text));
    }
    Statement& bind_null(int index);
    template <class T>
    Statement& bind(int index, const std::optional<T>& value) {
        return value ? bind(index, *value) : bind_null(index);
    }

    // Advances: true when a row is available, false when done.
    Result<bool> step();
    // Steps to completion (INSERT/UPDATE/DELETE); a returned row is ignored.
    Result<void> run();
    // Ready for new bindings and a new run (keeps the compiled statement).
    void reset();

    bool is_null(int column) const;
    std::int64_t column_int64(int column) const;
    double column_double(int column) const;
    std::string column_text(int column) const;  // "" for NULL
    std::optional<std::int64_t> column_opt_int64(int column) const;
    std::optional<std::string> column_opt_text(int column) const;

private:
    friend class Database;
    Statement(sqlite3_stmt* stmt, sqlite3* db);
    sqlite3_stmt* m_stmt = nullptr;
    sqlite3* m_db = nullptr;
    std::string m_bind_error;
};

struct DatabaseOptions {
    int busy_timeout_ms = 5000;
    // "FULL" (default: durable at COMMIT) or "NORMAL" (WAL: may lose the last
    // commits on power loss, never corrupts). Anything else is rejected.
    std::string synchronous = "FULL";
    bool run_migrations = true;
    bool read_only = false;
};

class Database {
public:
    // Opens (creating it and its parent directory's file when missing) and migrates.
    static Result<std::unique_ptr<Database>> open(const std::string& path,
                                                  const DatabaseOptions& options = {});
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    // Runs one or more ;-separated statements without results.
    Result<void> exec(std::string_view sql);
    Result<Statement> prepare(std::string_view sql);

    std::int64_t last_insert_rowid() const;
    int changes() const;  // rows changed by the last INSERT/UPDATE/DELETE
    const std::string& path() const { return m_path; }

    // Convenience for "SELECT <one integer>" queries; nullopt when no row.
    Result<std::optional<std::int64_t>> query_int64(std::string_view sql);
    // True inside a Transaction of this connection.
    bool in_transaction() const { return m_in_transaction; }

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
