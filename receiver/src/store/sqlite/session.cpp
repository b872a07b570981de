#include "session.hpp"

#include "migrations.hpp"

namespace saslguard::receiver::store::sqlite {
namespace {

class SqliteTransaction final : public store::Transaction {
public:
    explicit SqliteTransaction(sqlite::Transaction tx) : m_tx(std::move(tx)) {}
    Result<void> commit() override { return m_tx.commit(); }

private:
    sqlite::Transaction m_tx;
};

// The factory: the path, the write lock every session of the process shares,
// and the schema version the migrations brought the file to.
class SqliteStateStore final : public StateStore {
public:
    SqliteStateStore(std::string path, int version)
        : m_path(std::move(path)), m_version(version), m_lock(std::make_shared<std::mutex>()) {}

    Result<std::unique_ptr<Session>> session(const SessionOptions& options) override {
        DatabaseOptions o;
        o.synchronous = options.durability == Durability::Full ? "FULL" : "NORMAL";
        o.run_migrations = false;  // done once, by open()
        auto db = Database::open(m_path, o);
        if (!db) return db.error();
        // Checkpoints copy the WAL into the database file and fsync it; run inside
        // a commit they put hundreds of ms on its latency (docs/receiver.md).
        if (options.defer_housekeeping)
            if (auto r = (*db)->exec("PRAGMA wal_autocheckpoint=0"); !r) return r.error();
        (*db)->set_write_lock(m_lock);
        return std::unique_ptr<Session>(new SqliteSession(std::move(*db)));
    }
    int schema_version() const override { return m_version; }
    const std::string& location() const override { return m_path; }

private:
    std::string m_path;
    int m_version;
    std::shared_ptr<std::mutex> m_lock;
};

}  // namespace

SqliteSession::SqliteSession(std::unique_ptr<Database> db)
    : m_db(std::move(db)),
      m_alerts(make_alert_repository(*m_db)),
      m_mitigation(make_mitigation_repository(*m_db)),
      m_telegram(make_telegram_repository(*m_db)) {}

Result<std::unique_ptr<store::Transaction>> SqliteSession::begin() {
    auto tx = Transaction::begin(*m_db);
    if (!tx) return tx.error();
    return std::unique_ptr<store::Transaction>(new SqliteTransaction(std::move(*tx)));
}

void SqliteSession::checkpoint() {
    // PASSIVE: copies what no reader needs, never waits for writers.
    (void)m_db->exec("PRAGMA wal_checkpoint(PASSIVE)");
}

Result<std::unique_ptr<StateStore>> open_sqlite_store(const std::string& path) {
    auto db = Database::open(path);  // creates the file and runs the migrations, once
    if (!db) return db.error();
    auto version = schema_version(**db);
    if (!version) return make_error(path + ": " + version.error().message);
    return std::unique_ptr<StateStore>(new SqliteStateStore(path, *version));
}

}  // namespace saslguard::receiver::store::sqlite
