#pragma once
// The engine the store's tests run on: SQLite (a file in the test's temp dir)
// by default; PostgreSQL when SASLGUARD_TEST_PG_CONNINFO holds a libpq
// connection string (tests/receiver/store_postgresql_test.sh starts a private
// cluster and runs the same test binary so). With PostgreSQL each test's store
// is a schema of its own, named after the path the test would give SQLite, so
// the same cases run unchanged on both engines.
#include <cstdlib>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "saslguard/receiver/store/state_store.hpp"
#include "store/pg/database.hpp"
#include "store/sqlite/database.hpp"

namespace saslguard::receiver::testing {

inline std::string pg_conninfo_under_test() {
    const char* c = std::getenv("SASLGUARD_TEST_PG_CONNINFO");
    return c ? c : "";
}

inline bool postgresql_under_test() {
    return !pg_conninfo_under_test().empty();
}

// Where the store of `path` lives under the engine of this run.
inline store::StoreSettings store_settings_for(const std::string& path) {
    store::StoreSettings s;
    s.path = path;
    if (!postgresql_under_test()) return s;
    s.engine = store::StoreSettings::Engine::Postgresql;
    s.conninfo = pg_conninfo_under_test();
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016zx", std::hash<std::string>{}(path));
    s.schema = std::string("t_") + hash;
    return s;
}

inline std::unique_ptr<store::StateStore> open_store(const std::string& path) {
    auto s = store::StateStore::open(store_settings_for(path));
    if (!s) throw std::runtime_error(s.error().message);
    return std::move(*s);
}

// The tables themselves, for tests that look at the rows (as the scripts do
// with sqlite3 or psql). The store at `path` must have been opened (migrated).
inline std::unique_ptr<store::sql::Connection> open_db(const std::string& path) {
    auto s = store_settings_for(path);
    if (s.engine == store::StoreSettings::Engine::Postgresql) {
        if (auto r = open_store(path); !r) throw std::runtime_error("no store");
        return std::make_unique<store::pg::Database>(
            store::pg::Options{s.conninfo, s.schema, true});
    }
    auto db = store::sqlite::Database::open(path);
    if (!db) throw std::runtime_error(db.error().message);
    return std::move(*db);
}

// The first column of the first row of `sql`, as text (throws when there is no row).
inline std::string query_text(store::sql::Connection& db, const std::string& sql) {
    auto st = db.prepare(sql);
    if (!st) throw std::runtime_error(st.error().message);
    auto row = st->step();
    if (!row) throw std::runtime_error(row.error().message);
    if (!*row) throw std::runtime_error("no row: " + sql);
    return st->column_text(0);
}

}  // namespace saslguard::receiver::testing
