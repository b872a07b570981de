// The SQLite store: the factory of sessions over one database file.
#include <mutex>

#include "database.hpp"
#include "store/migrations.hpp"
#include "store/session.hpp"

namespace saslguard::receiver::store::sqlite {
namespace {

// The path, the write lock every session of the process shares, and the schema
// version the migrations brought the file to.
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
        return std::unique_ptr<Session>(new sql::EngineSession(std::move(*db)));
    }
    int schema_version() const override { return m_version; }
    const std::string& location() const override { return m_path; }

private:
    std::string m_path;
    int m_version;
    std::shared_ptr<std::mutex> m_lock;
};

}  // namespace

Result<std::unique_ptr<StateStore>> open_sqlite_store(const std::string& path) {
    auto db = Database::open(path);  // creates the file and runs the migrations, once
    if (!db) return db.error();
    auto version = sql::schema_version(**db);
    if (!version) return make_error(path + ": " + version.error().message);
    return std::unique_ptr<StateStore>(new SqliteStateStore(path, *version));
}

}  // namespace saslguard::receiver::store::sqlite
