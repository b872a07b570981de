#pragma once
// The one SQL interface the repositories are written against (private to
// receiver/src/store). Two engines implement it: SQLite (sqlite/database.hpp,
// the embedded default) and PostgreSQL (pg/database.hpp, the shared store of a
// fleet). The repositories' SQL is common to both: numbered placeholders `?1`
// (PostgreSQL's engine turns them into `$1`), `RETURNING id` for new rows,
// ON CONFLICT for upserts; where a dialect must differ, the code asks
// Connection::dialect().
//
// Contract:
// - A Connection is used by one thread at a time. Nothing throws: every fallible
//   call returns a Result whose error names the statement's first words and the
//   engine's reason.
// - begin() takes the store's write lock up front (SQLite: BEGIN IMMEDIATE under
//   the process's mutex; PostgreSQL: a transaction advisory lock keyed on the
//   host's schema), so read-decide-write code needs no retry loop.
// - changes() is the number of rows the last INSERT, UPDATE or DELETE changed
//   (a COMMIT or a SELECT leaves it as it was).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/store/transaction.hpp"

namespace saslguard::receiver::store::sql {

enum class Dialect { Sqlite, Postgresql };

// The first words of a statement, to say which one failed without dumping it all.
std::string head_of(std::string_view sql);

// What an engine's prepared statement does; Statement below is what callers hold.
class StatementImpl {
public:
    virtual ~StatementImpl() = default;
    virtual void bind_int64(int index, std::int64_t value) = 0;
    virtual void bind_double(int index, double value) = 0;
    virtual void bind_text(int index, std::string_view text) = 0;  // copied
    virtual void bind_null(int index) = 0;
    virtual Result<bool> step() = 0;
    virtual void reset() = 0;  // keeps the statement, drops the bindings
    virtual bool is_null(int column) const = 0;
    virtual std::int64_t column_int64(int column) const = 0;
    virtual double column_double(int column) const = 0;
    virtual std::string column_text(int column) const = 0;  // "" for NULL
};

// A prepared statement. Parameters are 1-based (`?1`); columns 0-based. A bind
// error is remembered and reported by step()/run().
class Statement {
public:
    Statement() = default;
    explicit Statement(std::unique_ptr<StatementImpl> impl) : m_impl(std::move(impl)) {}

    Statement& bind(int index, std::int64_t value) {
        m_impl->bind_int64(index, value);
        return *this;
    }
    Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
    Statement& bind(int index, double value) {
        m_impl->bind_double(index, value);
        return *this;
    }
    Statement& bind(int index, std::string_view text) {
        m_impl->bind_text(index, text);
        return *this;
    }
    Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    Statement& bind(int index, const std::string& text) {
        return bind(index, std::string_view(text));
    }
    Statement& bind_null(int index) {
        m_impl->bind_null(index);
        return *this;
    }
    template <class T>
    Statement& bind(int index, const std::optional<T>& value) {
        return value ? bind(index, *value) : bind_null(index);
    }

    // Advances: true when a row is available, false when done.
    Result<bool> step() {
        if (!m_impl) return make_error("step on an empty statement");
        return m_impl->step();
    }
    // Steps to completion (INSERT/UPDATE/DELETE); a returned row is ignored.
    Result<void> run();
    // Ready for new bindings and a new run (keeps the compiled statement).
    void reset() {
        if (m_impl) m_impl->reset();
    }

    bool is_null(int column) const { return m_impl->is_null(column); }
    std::int64_t column_int64(int column) const { return m_impl->column_int64(column); }
    double column_double(int column) const { return m_impl->column_double(column); }
    std::string column_text(int column) const { return m_impl->column_text(column); }
    std::optional<std::int64_t> column_opt_int64(int column) const;
    std::optional<std::string> column_opt_text(int column) const;

private:
    std::unique_ptr<StatementImpl> m_impl;
};

class Connection {
public:
    virtual ~Connection() = default;
    virtual Dialect dialect() const = 0;
    // Runs one or more ;-separated statements without results.
    virtual Result<void> exec(std::string_view sql) = 0;
    virtual Result<Statement> prepare(std::string_view sql) = 0;
    virtual int changes() const = 0;
    // True inside a transaction of this connection.
    virtual bool in_transaction() const = 0;
    // The write lock, taken now; rolled back unless committed.
    virtual Result<std::unique_ptr<Transaction>> begin() = 0;
    // Engine housekeeping outside any transaction (SQLite: a passive WAL checkpoint).
    virtual void housekeeping() {}
    // Where the store's tables are, for messages: a file or a schema.
    virtual std::string location() const = 0;
    // What migrating needs before the first step (PostgreSQL: the host's schema).
    virtual std::string prepare_namespace_sql() const { return {}; }

    // Convenience for "SELECT <one integer>" queries; nullopt when no row or NULL.
    Result<std::optional<std::int64_t>> query_int64(std::string_view sql);
};

// Runs `body` in the connection's current transaction, or in one of its own
// (taking the write lock) when there is none. `body` returns a Result.
template <class Body>
auto in_transaction(Connection& db, Body body) -> decltype(body()) {
    if (db.in_transaction()) return body();
    auto tx = db.begin();
    if (!tx) return tx.error();
    auto r = body();
    if (!r) return r;
    if (auto c = (*tx)->commit(); !c) return c.error();
    return r;
}

// Every row of a bound statement, through `read`.
template <class T, class Read>
Result<std::vector<T>> collect(Statement& st, Read read) {
    std::vector<T> out;
    for (;;) {
        auto row = st.step();
        if (!row) return row.error();
        if (!*row) return out;
        out.push_back(read(st));
    }
}

// Prepares, binds (via `bind`) and runs a statement that returns no rows, in
// the caller's transaction or one of its own.
template <class Bind>
Result<void> run(Connection& db, std::string_view sql, Bind bind) {
    return in_transaction(db, [&]() -> Result<void> {
        auto st = db.prepare(sql);
        if (!st) return st.error();
        bind(*st);
        return st->run();
    });
}

// The same for an INSERT … RETURNING id: the new row's id (0 when the INSERT
// inserted nothing, e.g. ON CONFLICT DO NOTHING).
template <class Bind>
Result<std::int64_t> insert_returning_id(Connection& db, std::string_view sql, Bind bind) {
    return in_transaction(db, [&]() -> Result<std::int64_t> {
        auto st = db.prepare(sql);
        if (!st) return st.error();
        bind(*st);
        auto row = st->step();
        if (!row) return row.error();
        std::int64_t id = *row ? st->column_int64(0) : 0;
        if (auto r = st->run(); !r) return r.error();
        return id;
    });
}

}  // namespace saslguard::receiver::store::sql
